package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dagger/go-image/internal/recipe"
)

// TestEngineModuleConsumer installs go-image by local path into another
// Dagger module (testdata/consumer), as a team does with
// `dagger install github.com/<you>/go-image`, and calls Build, Check and
// Release from that module's Go code through its generated bindings.
func TestEngineModuleConsumer(t *testing.T) {
	engine(t)
	t.Parallel()
	// A copy of the checkout: dagger install writes the consumer's
	// dagger.json and bindings, and a local dependency must lie in the
	// same git repository.
	work := checkout(t)
	consumer := filepath.Join(work, "testdata", "consumer")
	if r := dagger(t, consumer, "install", "../.."); r.err != nil {
		t.Fatalf("dagger install ../..: %s", r.failed())
	}
	cfg, err := os.ReadFile(filepath.Join(consumer, "dagger.json"))
	if err != nil || !bytes.Contains(cfg, []byte(`"go-image"`)) {
		t.Fatalf("dagger.json after install: %v\n%s", err, cfg)
	}
	run := func(args ...string) string {
		t.Helper()
		r := dagger(t, work, append([]string{"call", "-m", "testdata/consumer"}, args...)...)
		if r.err != nil {
			t.Fatalf("consumer %s: %s", args[0], r.failed())
		}
		return r.stdout
	}
	if got := strings.TrimSpace(run("user", "--source=./testdata/service")); got != recipe.User {
		t.Errorf("consumer user = %q, want %s", got, recipe.User)
	}
	report := run("check", "--source=./testdata/service")
	wantLines(t, report, "PASS size/compressed", "SKIP scan/off", "PASS smoke/sigterm-drain")
	if !strings.Contains(report, "max_bytes=20000000") {
		t.Errorf("consumer's WithMaxSize not applied:\n%s", report)
	}
	reg := loopbackRegistry(t)
	addr := reg + "/e2e/consumer:1.0.0"
	ref := strings.TrimSpace(run("release", "--source=./testdata/service", "--address="+addr, "--registry=tcp://"+reg))
	want := digest(t, cliImage(t, testdata("service"), recipe.Options{Version: "1.0.0"}, ""))
	if got, err := pulled(addr); err != nil || got != want || !strings.HasSuffix(ref, want.String()) {
		t.Errorf("consumer release printed %q; %s resolves to %s (%v); want %s", ref, addr, got, err, want)
	}
}

// checkout copies the repository's files (tracked and untracked, not
// ignored) into a new git repository, for a test that installs go-image
// into a module of its testdata: dagger install and toolchain install
// write the module's dagger.json, and a local dependency must lie in the
// same git repository.
func checkout(t *testing.T) string {
	t.Helper()
	work := t.TempDir()
	files, err := exec.Command("git", "-C", repoRoot, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		src := filepath.Join(repoRoot, f)
		st, err := os.Lstat(src)
		if err != nil || !st.Mode().IsRegular() {
			continue // deleted in the work tree, or a link
		}
		copyFile(t, src, filepath.Join(work, f), st.Mode().Perm())
	}
	if out, err := exec.Command("git", "init", "-q", work).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	return work
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
}
