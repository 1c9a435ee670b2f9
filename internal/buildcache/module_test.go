package buildcache

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// TestCacheProgModeOfTheModuleBinary runs what the Dagger builder runs
// (internal/engine.BuildCache), without an engine: the module's own binary
// (the repository root's main package), started by the go command with
// ModuleCommand, serves the cache from the registry; its Dagger client
// never starts.
func TestCacheProgModeOfTheModuleBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module binary")
	}
	work := t.TempDir()
	mod := filepath.Join(work, "module")
	if out, err := exec.Command("go", "build", "-o", mod, "../..").CombinedOutput(); err != nil {
		t.Fatalf("build the module binary: %v\n%s", err, out)
	}
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	line, err := JoinArgs(ModuleCommand(mod, strings.TrimPrefix(srv.URL, "http://")+"/ci/go-cache", "ci", "CACHE_PASSWORD", false))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(work, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/hello\n\ngo 1.24\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"), 0o644)
	build := func() string {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(t.TempDir(), "hello"), ".")
		cmd.Dir = src
		// The environment of the builder: the secrets by the names the
		// command line gives, nothing of this test's Dagger session.
		cmd.Env = append(os.Environ(), "GOCACHE="+t.TempDir(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOPROXY=off", "GOFLAGS=-mod=mod",
			"GOCACHEPROG="+line, DefaultKeyEnv+"=0123456789abcdef0123", "CACHE_PASSWORD=anything")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("go build: %v\n%s", err, stderr.String())
		}
		return stderr.String()
	}
	first := build()
	if !strings.Contains(first, "uploaded") || strings.Contains(first, "panic") {
		t.Fatalf("first build:\n%s", first)
	}
	second := build()
	m := regexp.MustCompile(`(\d+) remote hits`).FindStringSubmatch(second)
	if m == nil || m[1] == "0" {
		t.Fatalf("second build, with an empty GOCACHE, not served by the registry:\n%s", second)
	}
	t.Logf("first: %s\nsecond: %s", first, second)
}
