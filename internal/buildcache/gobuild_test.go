package buildcache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// progEnv makes this test binary the cache program (TestMain), as the
// go-image binary is in production.
const progEnv = "GOIMAGE_TEST_CACHEPROG"

func TestMain(m *testing.M) {
	if os.Getenv(progEnv) == "1" {
		if err := Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "cacheprog:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// program is a small module to build: enough packages (fmt and what it
// imports) to have tens of actions, few enough to compile in seconds.
func program(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":  "module example.com/hello\n\ngo 1.24\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"strings\"\n)\n\nfunc main() { fmt.Println(strings.ToUpper(\"hello\")) }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// goBuild builds src with a fresh or given GOCACHE and the extra env, and
// returns the binary and go's stderr (where the cache program writes).
func goBuild(t *testing.T, src, gocache string, env ...string) ([]byte, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "hello")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOCACHE="+gocache, "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOPROXY=off")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b, stderr.String()
}

// standalone is the GOCACHEPROG environment of the cache program serving
// the registry itself (the Dagger builder's way), with its counts in stats.
func standalone(t *testing.T, ref, stats string) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	line, err := JoinArgs([]string{self, "--repository", ref, "--stats", stats})
	if err != nil {
		t.Fatal(err)
	}
	return []string{progEnv + "=1", "GOCACHEPROG=" + line, DefaultKeyEnv + "=" + string(testKey)}
}

func readStats(t *testing.T, path string) Stats {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no stats from the cache program: %v", err)
	}
	var s Stats
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGoBuild runs the go command with the cache program against the
// in-process registry: a first build fills it, a build with a new empty
// GOCACHE is served by it (standalone, and through go-image's socket), a
// damaged object is a miss, and a registry that is gone leaves the local
// cache working. Every build gives the same binary.
func TestGoBuild(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	reg := newTestRegistry(t, nil)
	src := program(t)
	statsFile := filepath.Join(t.TempDir(), "stats.json")
	first := t.TempDir()

	want, _ := goBuild(t, src, first, standalone(t, reg.ref(), statsFile)...)
	s1 := readStats(t, statsFile)
	t.Logf("first build: %s", s1)
	if s1.Puts < 10 || s1.Uploads == 0 || !s1.IndexWritten || s1.RemoteHits != 0 {
		t.Fatalf("first build did not fill the registry: %s", s1)
	}

	// The floor: a build on the first one's warm local cache. go build -o
	// links again whatever the cache holds, so even then a lookup or two
	// misses and the link stores its entries.
	goBuild(t, src, first, standalone(t, reg.ref(), statsFile)...)
	warm := readStats(t, statsFile)
	t.Logf("warm local build: %s", warm)
	if warm.LocalHits == 0 || warm.Misses > 2 {
		t.Fatalf("the local cache did not serve the rebuild: %s", warm)
	}
	// servedAll reports whether s got from the caches all that the warm
	// local build got: nothing recompiled.
	servedAll := func(s Stats) bool {
		return s.Misses <= warm.Misses && s.LocalHits+s.RemoteHits >= warm.LocalHits && s.Puts <= warm.Puts
	}

	t.Run("new GOCACHE, warm registry", func(t *testing.T) {
		bin, _ := goBuild(t, src, t.TempDir(), standalone(t, reg.ref(), statsFile)...)
		s := readStats(t, statsFile)
		t.Logf("second build: %s", s)
		if !bytes.Equal(bin, want) {
			t.Error("the binary differs from the first build's")
		}
		if s.RemoteHits == 0 || !servedAll(s) || s.Corrupt != 0 {
			t.Errorf("want every output from the registry, nothing rebuilt: %s", s)
		}
	})

	t.Run("through the go-image socket", func(t *testing.T) {
		self, _ := os.Executable()
		log := &logBuffer{}
		c, err := Open(context.Background(), Options{Dir: t.TempDir(), Log: log, Prog: []string{self}, Remote: &Remote{Ref: reg.ref(), Key: testKey}})
		if err != nil {
			t.Fatal(err)
		}
		env, stop, err := c.Serve(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		bin, _ := goBuild(t, src, t.TempDir(), append(env, progEnv+"=1")...)
		stop()
		s := c.Close(context.Background())
		t.Logf("socket build: %s", s)
		if !bytes.Equal(bin, want) {
			t.Error("the binary differs from the first build's")
		}
		if s.RemoteHits == 0 || !servedAll(s) {
			t.Errorf("want every output from the registry: %s", s)
		}
		if !strings.Contains(log.String(), "remote hits") {
			t.Errorf("no summary in go-image's log:\n%s", log)
		}
	})

	t.Run("a damaged object is a miss", func(t *testing.T) {
		// A package archive the link needs: the smallest object of 64 KiB
		// or more (smaller ones include entries this build never asks for,
		// which the prefetch alone would find damaged).
		victim := smallestFrom(t, filepath.Join(reg.blobs, "sha256"), 64<<10)
		b, err := os.ReadFile(victim)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(victim, b, 0o644); err != nil {
			t.Fatal(err)
		}
		bin, stderr := goBuild(t, src, t.TempDir(), standalone(t, reg.ref(), statsFile)...)
		s := readStats(t, statsFile)
		t.Logf("damaged build: %s", s)
		if !bytes.Equal(bin, want) {
			t.Error("the binary differs from the first build's")
		}
		if s.Corrupt != 1 || s.Puts <= warm.Puts {
			t.Errorf("want one corrupt object, rebuilt: %s", s)
		}
		if strings.Count(stderr, "treated as a miss") != 1 {
			t.Errorf("want one warning:\n%s", stderr)
		}
	})

	t.Run("registry gone: the local cache still serves", func(t *testing.T) {
		ref := reg.ref()
		reg.srv.Close()
		bin, stderr := goBuild(t, src, first, standalone(t, ref, statsFile)...)
		s := readStats(t, statsFile)
		t.Logf("offline build: %s", s)
		if !bytes.Equal(bin, want) {
			t.Error("the binary differs from the first build's")
		}
		if s.RemoteHits != 0 || !servedAll(s) {
			t.Errorf("want every output from the local cache: %s", s)
		}
		if n := strings.Count(stderr, "go-image: build cache: "); n != 1 || !strings.Contains(stderr, "unreachable") {
			t.Errorf("want one warning line saying unreachable, got %d:\n%s", n, stderr)
		}
	})
}

// smallestFrom returns the smallest file in dir of at least min bytes.
func smallestFrom(t *testing.T, dir string, min int64) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	best, bestSize := "", int64(-1)
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || info.Size() < min {
			continue
		}
		if bestSize < 0 || info.Size() < bestSize {
			best, bestSize = filepath.Join(dir, e.Name()), info.Size()
		}
	}
	if best == "" {
		t.Fatalf("no object of %d bytes or more in %s", min, dir)
	}
	return best
}
