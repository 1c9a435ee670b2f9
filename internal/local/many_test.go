package local

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagger/go-image/internal/recipe"
)

const monorepo = "../../testdata/monorepo"

// TestBuildMany: the binaries of a monorepo, built together (one go build
// for those that share a recipe), give the very images each gives built
// alone; another platform is a build of its own.
func TestBuildMany(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles four binaries")
	}
	ctx := context.Background()
	target := func(main, name, platform string) Target {
		return Target{Options: recipe.Options{Main: main, Name: name, Platform: platform, Version: "1.0.0"}}
	}
	var log bytes.Buffer
	imgs, err := BuildMany(ctx, ManyRequest{Source: monorepo, Jobs: 2, Log: &log, Targets: []Target{
		target("./cmd/api", "api", "linux/amd64"), target("./cmd/ctl", "ctl", "linux/amd64"),
		target("./cmd/worker", "worker", "linux/amd64"), target("./cmd/api", "api", "linux/arm64"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "compile ./cmd/api ./cmd/ctl ./cmd/worker for linux/amd64") {
		t.Errorf("the amd64 binaries were not compiled in one go build:\n%s", log.String())
	}
	alone, err := Build(ctx, Request{Source: monorepo, Options: recipe.Options{Main: "./cmd/api", Version: "1.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := alone.Digest()
	got, _ := imgs[0].Digest()
	if got != want {
		t.Errorf("api built with the others = %s, alone = %s", got, want)
	}
	seen := map[string]string{}
	for i, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		title := cf.Config.Labels["org.opencontainers.image.title"] + " " + cf.Architecture
		d, _ := img.Digest()
		if prev, dup := seen[d.String()]; dup {
			t.Errorf("images %d and %s have one digest", i, prev)
		}
		seen[d.String()] = title
		if want := []string{"api amd64", "ctl amd64", "worker amd64", "api arm64"}[i]; title != want {
			t.Errorf("image %d is %s, want %s", i, title, want)
		}
	}
}

func TestBuildManyFails(t *testing.T) {
	src := t.TempDir()
	for name, data := range map[string]string{
		"go.mod":         "module example.com/bad\n\ngo 1.24\n",
		"cmd/a/main.go":  "package main\n\nfunc main() {}\n",
		"cmd/b/main.go":  "package main\n\nfunc main() { undefined() }\n",
		"cmd/c/other.go": "package main\n\nfunc main() {}\n",
	} {
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := BuildMany(context.Background(), ManyRequest{Source: src, Targets: []Target{
		{Options: recipe.Options{Main: "./cmd/a"}}, {Options: recipe.Options{Main: "./cmd/b"}},
	}})
	if err == nil || !strings.Contains(err.Error(), "compile ./cmd/a ./cmd/b: go build failed") || !strings.Contains(err.Error(), "undefined: undefined") {
		t.Errorf("BuildMany = %v, want the compiler's message naming the packages", err)
	}
	if _, err := BuildMany(context.Background(), ManyRequest{Source: filepath.Join(src, "cmd"), Targets: []Target{{}}}); err == nil || !strings.Contains(err.Error(), "no go.mod") {
		t.Errorf("BuildMany of a directory without go.mod = %v", err)
	}
}

// countingCache is a GoCache that points the go commands at a build cache
// directory of its own and counts its servers.
type countingCache struct {
	dir           string
	served, ended int
}

func (c *countingCache) Serve(context.Context) ([]string, func(), error) {
	c.served++
	return []string{"GOCACHE=" + c.dir}, func() { c.ended++ }, nil
}

// TestBuildManyServesCache: a build of several binaries serves the
// --build-cache once, to every batch's go build (two platforms are two
// batches), and stops it when the builds are done.
func TestBuildManyServesCache(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles two binaries with an empty build cache")
	}
	c := &countingCache{dir: t.TempDir()}
	_, err := BuildMany(context.Background(), ManyRequest{Source: monorepo, Jobs: 2, Cache: c, Targets: []Target{
		{Options: recipe.Options{Main: "./cmd/api", Name: "api", Platform: "linux/amd64"}},
		{Options: recipe.Options{Main: "./cmd/api", Name: "api", Platform: "linux/arm64"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if c.served != 1 || c.ended != 1 {
		t.Errorf("cache served %d times, stopped %d times; want 1 and 1", c.served, c.ended)
	}
	// Each platform's compile of the main package leaves its own entry:
	// both batches wrote into the served cache.
	var entries int
	filepath.WalkDir(c.dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), "-a") {
			entries++
		}
		return nil
	})
	if entries < 2 {
		t.Errorf("the served build cache %s holds %d action entries; want the builds of both platforms", c.dir, entries)
	}
}
