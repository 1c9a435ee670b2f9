// Package trivytest gives tests what the scan gate needs offline: the trivy
// binary (or a loud skip) and a Trivy cache directory holding the fixture
// vulnerability DB built by internal/tools/trivydbfixture.
package trivytest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"dagger/go-image/internal/trivy"
)

// SkipHint is the reason integration tests give when trivy is missing.
const SkipHint = "trivy binary not found: set GOIMAGE_TRIVY or run ci/install-tools.sh (builds trivy " + trivy.PinnedVersion + " from source, ~11 min cold)"

// Binary returns the trivy binary, or skips the test loudly.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := trivy.Find("")
	if err != nil {
		t.Skipf("SKIP (integration): %s\n(%v)", SkipHint, err)
	}
	return bin
}

// Version is `trivy --version`'s first line, for test logs.
func Version(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

var shared struct {
	main bool // Main is running the tests: build once, remove at the end
	once sync.Once
	dir  string // holds the built DB in dir/cache/db
	err  error
}

// Main runs the tests and removes the shared fixture DB afterwards. Call it
// from TestMain to build the fixture DB once per package; without it,
// CacheDir builds one per test.
func Main(m *testing.M) int {
	shared.main = true
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	return code
}

// fixtureModule is internal/tools/trivydbfixture, located from this file so
// tests in any package find it.
func fixtureModule() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "tools", "trivydbfixture")
}

// build builds the fixture program into dir and writes the DB to dir/cache.
func build(dir string) (string, error) {
	bin := filepath.Join(dir, "trivydbfixture")
	// A module of its own (trivy-db stays out of go-image's go.mod).
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = fixtureModule()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %v\n%s", cmd.Dir, err, out)
	}
	var stderr bytes.Buffer
	cache := filepath.Join(dir, "cache")
	gen := exec.Command(bin, "-cache-dir", cache)
	gen.Stderr = &stderr
	if err := gen.Run(); err != nil {
		return "", fmt.Errorf("trivydbfixture: %v: %s", err, stderr.String())
	}
	return cache, nil
}

// BuildDB writes the fixture DB into dir and returns the Trivy cache
// directory holding it (dir/cache, with db/trivy.db and db/metadata.json),
// for callers without a testing.TB (TestMain).
func BuildDB(dir string) (string, error) { return build(dir) }

// CacheDir returns a fresh Trivy cache directory for this test holding the
// fixture DB (db/trivy.db, db/metadata.json), a copy the test may damage.
func CacheDir(t testing.TB) string {
	t.Helper()
	var src string
	var err error
	if shared.main {
		shared.once.Do(func() {
			if shared.dir, shared.err = os.MkdirTemp("", "go-image-trivydb-"); shared.err == nil {
				_, shared.err = build(shared.dir)
			}
		})
		src, err = filepath.Join(shared.dir, "cache"), shared.err
	} else {
		src, err = build(t.TempDir())
	}
	if err != nil {
		t.Fatalf("fixture Trivy DB: %v", err)
	}
	dst := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dst, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"trivy.db", "metadata.json"} {
		if err := copyFile(filepath.Join(src, "db", f), filepath.Join(dst, "db", f)); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
