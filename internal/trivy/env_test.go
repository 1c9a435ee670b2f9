package trivy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagger/go-image/internal/trivy"
)

// TestTrivyGetsNoSecrets runs the Runner's real exec path with a stand-in
// trivy that writes its environment as the report: the registry token and
// key password of this process, and TRIVY_* settings, are not in it.
func TestTrivyGetsNoSecrets(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "trivy")
	script := "#!/bin/sh\n" +
		"[ \"$1\" = --version ] && { echo 'Version: 0.0.0'; exit 0; }\n" +
		"while [ $# -gt 0 ]; do [ \"$1\" = --output ] && out=$2; shift; done\n" +
		"env > \"$out\"\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	if err := os.MkdirAll(filepath.Join(cache, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"trivy.db": "db", "metadata.json": `{"Version":2,"UpdatedAt":"2025-01-01T00:00:00Z"}`} {
		if err := os.WriteFile(filepath.Join(cache, "db", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(dir, "image.tar")
	if err := os.WriteFile(img, []byte("tar"), 0o644); err != nil {
		t.Fatal(err)
	}
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
