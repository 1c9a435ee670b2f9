package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// cacheBytes is the size of the files in a build cache directory.
func cacheBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The lint loads the packages with the compile's configuration, so after
// a build it compiles nothing again: the standard library's export data is
// already in the build cache. Under any other configuration (cgo on, no
// -trimpath, other tags) the go command compiles every package the
// service imports a second time, which doubles the cache; here the lint
// adds only go list's own small entries.
func TestLintReusesTheCompile(t *testing.T) {
	src := t.TempDir()
	for name, data := range map[string]string{
		"go.mod":  "module example.com/tiny\n\ngo 1.24\n",
		"main.go": "package main\n\nimport \"errors\"\n\nfunc main() { _ = errors.New(\"x\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cache := t.TempDir()
	t.Setenv("GOCACHE", cache)
	if code, _, stderr := goImage(t, "build", "--source", src, "--output", filepath.Join(t.TempDir(), "tiny.tar")); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	compiled := cacheBytes(t, cache)
	if code, stdout, stderr := goImage(t, "lint", "--source", src); code != 0 {
		t.Fatalf("lint: exit %d\n%s%s", code, stdout, stderr)
	}
	added := cacheBytes(t, cache) - compiled
	t.Logf("the build wrote %d bytes to the build cache, the lint after it %d", compiled, added)
	if added > compiled/10 {
		t.Errorf("the lint added %d bytes to the build cache after a build that wrote %d: it compiled the packages again, under another configuration than the compile's (recipe.Options.Packages)", added, compiled)
	}
}
