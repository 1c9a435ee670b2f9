package trivy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagger/go-image/internal/safetext"
	"dagger/go-image/internal/trivy"
)

// TestTrivyGetsNoSecrets runs the Runner's real exec path with a stand-in
// trivy that writes its environment as the report: the registry token and
// key password of this process, and TRIVY_* settings, are not in it.
func TestTrivyGetsNoSecrets(t *testing.T) {
	bin, cache, img := standIn(t, "env > \"$out\"\n")
	secrets := map[string]string{"REGISTRY_TOKEN": "tok-3f9a", "COSIGN_PASSWORD": "pw-77c1", "TRIVY_SEVERITY": "CRITICAL"}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	out, err := (&trivy.Runner{Binary: bin, CacheDir: cache}).Scan(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	env := string(out.JSON)
	if !strings.Contains(env, "PATH=") {
		t.Fatalf("the stand-in wrote no environment:\n%s", env)
	}
	for k, v := range secrets {
		if strings.Contains(env, v) {
			t.Errorf("trivy got %s", k)
		}
	}
}

// Trivy's log (scan -v) quotes the image's file names: relayed to
// go-image's stderr, a name holding "##[add-mask]FAIL" or a line of its
// own starting "::stop-commands::" was a command to the CI runner.
func TestTrivyLogRunsNoRunnerCommand(t *testing.T) {
	bin, cache, img := standIn(t, "printf '2026-01-01T00:00:00Z\\tWARN\\tfailed to analyze usr/bin/x##[add-mask]FAIL\\n::stop-commands::pwn\\n\\033[2K' >&2\necho '{}' > \"$out\"\n")
	var log strings.Builder
	if _, err := (&trivy.Runner{Binary: bin, CacheDir: cache, Log: &log}).Scan(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "failed to analyze usr/bin/x#") || !strings.Contains(log.String(), `\x1b[2K`) {
		t.Fatalf("Trivy's log is not relayed whole:\n%s", log.String())
	}
	for _, l := range strings.Split(log.String(), "\n") {
		if c := safetext.Command(l); c != "" {
			t.Errorf("a runner reads command %q in %q", c, l)
		}
	}
}

// standIn writes a stand-in trivy that answers --version and runs body
// with $out set to its --output, an empty DB cache and an image file.
func standIn(t *testing.T, body string) (bin, cache, img string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "trivy")
	script := "#!/bin/sh\n" +
		"[ \"$1\" = --version ] && { echo 'Version: 0.0.0'; exit 0; }\n" +
		"while [ $# -gt 0 ]; do [ \"$1\" = --output ] && out=$2; shift; done\n" + body
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cache = filepath.Join(dir, "cache")
	if err := os.MkdirAll(filepath.Join(cache, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"trivy.db": "db", "metadata.json": `{"Version":2,"UpdatedAt":"2025-01-01T00:00:00Z"}`} {
		if err := os.WriteFile(filepath.Join(cache, "db", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img = filepath.Join(dir, "image.tar")
	if err := os.WriteFile(img, []byte("tar"), 0o644); err != nil {
		t.Fatal(err)
	}
	return bin, cache, img
}
