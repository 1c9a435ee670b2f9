package e2e

import (
	"os"
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
