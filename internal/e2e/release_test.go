package e2e

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/recipe"
)

// TestEngineRelease pushes the example service to a registry on this
// machine's loopback, through the registry service tunnel: the pushed
// digest reads back and is the CLI's digest for the same inputs.
func TestEngineRelease(t *testing.T) {
	scanner(t)
	t.Parallel()
	reg := loopbackRegistry(t)
	addr := reg + "/e2e/service:1.0.0"
	out := mustCall(t, "--source=./testdata/service", "--version=1.0.0",
		"with-trivy-db-repository", "--repository="+env.dbRepo,
		"release", "--address="+addr, "--registry=tcp://"+reg)
	ref := strings.TrimSpace(out)
	want := digest(t, cliImage(t, testdata("service"), recipe.Options{Version: "1.0.0"}, ""))
	if ref != reg+"/e2e/service@"+want.String() {
		t.Errorf("release printed %q, want %s/e2e/service@%s", ref, reg, want)
	}
	got, err := pulled(addr)
	if err != nil {
		t.Fatalf("read back %s: %v", addr, err)
	}
	if got != want {
		t.Errorf("%s resolves to %s, want %s", addr, got, want)
	}
}

// TestEngineReleaseBlocked: a failing gate pushes nothing at all.
func TestEngineReleaseBlocked(t *testing.T) {
	t.Parallel()
	reg := loopbackRegistry(t)
	addr := reg + "/e2e/no-sigterm:1"
	r := call(t, "--source=./testdata/k8s/no-sigterm", "without-scan", "--reason=e2e: the lint and smoke gates are under test",
		"release", "--address="+addr, "--registry=tcp://"+reg)
	wantFail(t, r, "release blocked, nothing pushed", "lint/httpshutdown", "smoke/sigterm-drain")
	// The module logs what each stage took, a blocked release too.
	for _, stage := range []string{"go-image: timings:", "builder: go build, export the binary", "image pass (size, upx, harden)", "lint: go vet in the builder", "smoke: import the image, start the service"} {
		if !strings.Contains(r.stderr, stage) {
			t.Errorf("the module's log lacks the timing of %q", stage)
		}
	}
	repo, err := name.NewRepository(reg+"/e2e/no-sigterm", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if tags, err := remote.List(repo); err == nil && len(tags) > 0 {
		t.Errorf("a blocked release pushed tags %v", tags)
	}
	if _, err := pulled(addr); err == nil {
		t.Errorf("a blocked release pushed %s", addr)
	}
}

// TestEngineReleaseMultiPlatform pushes an OCI index of two platforms; the
// smoke gate runs the engine's platform and reports the other as not run.
func TestEngineReleaseMultiPlatform(t *testing.T) {
	t.Parallel()
	reg := loopbackRegistry(t)
	addr := reg + "/e2e/multi:1"
	r := call(t, "--source=./testdata/service", "without-scan", "--reason=e2e: scanned in TestEngineRelease",
		"release", "--platforms=linux/amd64,linux/arm64", "--address="+addr, "--registry=tcp://"+reg)
	if r.err != nil {
		t.Fatalf("release: %s", r.failed())
	}
	if !strings.Contains(r.stderr, "[SKIP] smoke/platform") || !strings.Contains(r.stderr, "linux/arm64 image not run") {
		t.Errorf("arm64 smoke not reported as not run:\n%s", lastLines([]byte(r.stderr), 60))
	}
	ref, err := name.ParseReference(addr, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("%s is not an index: %v", addr, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, d := range m.Manifests {
		plats = append(plats, d.Platform.String())
	}
	if strings.Join(plats, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("index platforms %v", plats)
	}
}

// TestEngineReleaseLoopback: a loopback address without the registry
// service is refused before anything is built, with the reason.
func TestEngineReleaseLoopback(t *testing.T) {
	t.Parallel()
	r := call(t, "--source=./testdata/service", "release", "--address=localhost:5999/e2e/service:1")
	wantFail(t, r, "function's own container", "--registry tcp://localhost:5999")
}
