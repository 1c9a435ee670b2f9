package compile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagger/go-image/internal/recipe"
)

// TestGoGetsNoSecrets runs CheckMain and Build with a stand-in go command
// first on PATH that records its environment: the registry token and key
// password of this process reach neither go list (the pre-flight's, and
// HostReads' beside the build) nor go build.
func TestGoGetsNoSecrets(t *testing.T) {
	dir := t.TempDir()
	record := filepath.Join(dir, "env")
	script := "#!/bin/sh\nenv >> " + record + "\necho '{\"ImportPath\":\"x\",\"Name\":\"main\"}'\n"
	if err := os.WriteFile(filepath.Join(dir, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	secrets := map[string]string{"REGISTRY_TOKEN": "tok-91be", "COSIGN_PASSWORD": "pw-0d2e", "GOOGLE_APPLICATION_CREDENTIALS": "/k-55a1.json"}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	t.Setenv("GOPROXY", "off")
	o, err := recipe.Options{Main: ".", Name: "svc"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if err := Build(context.Background(), t.TempDir(), o, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	env := string(b)
	if n := strings.Count(env, "GOPROXY=off"); n != 3 {
		t.Fatalf("want both go lists and go build to get GOPROXY, got it %d times:\n%s", n, env)
	}
	for k, v := range secrets {
		if strings.Contains(env, v) {
			t.Errorf("the go command got %s", k)
		}
	}
}
