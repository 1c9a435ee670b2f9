package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/hostile"
)

// TestEngineHostileBase: a hostile --base-image, served by the engine's
// mirror, gets the module the same verdict as the CLI: the layer is
// refused with its named check (the base's /etc/passwd is read through
// imagefs), never built on.
func TestEngineHostileBase(t *testing.T) {
	engine(t)
	t.Parallel()
	mirror := os.Getenv("GOIMAGE_E2E_MIRROR")
	if mirror == "" {
		mirror = "127.0.0.1:5000"
	}
	for _, tc := range []struct {
		name string
		img  v1.Image
		says string
	}{
		{"duplicate", hostile.DuplicatePaths(t), "[image/duplicate-path]"},
		{"whiteout", hostile.SameLayerWhiteout(t), "[image/same-layer-whiteout]"},
		{"symlink", hostile.SymlinkEscape(t, "/tmp"), "[image/path-through-non-directory]"},
		{"env", hostile.BaseEnv(t, "amd64", "SSL_CERT_FILE=/usr/share/evil-ca.pem"), `sets SSL_CERT_FILE="/usr/share/evil-ca.pem"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ref := mirror + "/hostile/" + tc.name + ":1"
			r, err := name.ParseReference(ref, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(r, tc.img); err != nil {
				t.Fatalf("push the hostile base to the mirror: %v", err)
			}
			wantFail(t, call(t, "--source=./testdata/service", "--base=alpine", "--base-image="+ref, "tarball"), tc.says)
		})
	}
}

// TestEngineHostileSource: a source's own files, which its author
// chooses, get the module the CLI's verdicts (cmd/go-image's
// TestHostileSource), before anything builds: a policy file's linker
// flag that writes the binary elsewhere (in the builder, into the shared
// module cache), and a go.mod over its bound.
func TestEngineHostileSource(t *testing.T) {
	engine(t)
	t.Parallel()
	for _, tc := range []struct {
		name  string
		files map[string]hostile.SourceFile
		says  []string
	}{
		{"ldflags -o", map[string]hostile.SourceFile{"go-image.yaml": {Data: "recipe:\n  ldflags: [\"-o /go/pkg/mod/pwned\"]\n"}},
			[]string{"recipe.ldflags", "linker flag -o is not allowed"}},
		{"go.mod over its bound", map[string]hostile.SourceFile{"go.mod": {Data: "module example.com/svc\n\ngo 1.26\n" + strings.Repeat("// padding\n", 500_000)}},
			[]string{"go.mod", "more than the limit of 4194304", "file too large"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantFail(t, call(t, "--source="+hostile.Source(t, tc.files), "binary"), tc.says...)
		})
	}
}

// TestEngineHostileArguments: a cache namespace that is not a short name
// (a path, a control character) is refused before anything builds
// (internal/volumes' TestCheckNamespace decides it; a caller's --builder
// gets volumes of its own, TestCallersImageGetsItsOwnVolumes).
func TestEngineHostileArguments(t *testing.T) {
	engine(t)
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		says []string
	}{
		{"cache namespace with a path", []string{"--cache-namespace=../team-b", "binary"}, []string{"cache namespace", "e.g. team-a"}},
		{"cache namespace with a newline", []string{"--cache-namespace=team\nb", "binary"}, []string{"cache namespace", `team\nb`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantFail(t, call(t, append([]string{"--source=./testdata/service"}, tc.args...)...), tc.says...)
		})
	}
}
