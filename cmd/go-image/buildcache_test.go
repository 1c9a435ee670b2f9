package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"dagger/go-image/internal/buildcache"
)

const testCacheKey = "9f2c1e0d8b7a65f4e3d2c1b0a9f8e7d6"

// summary reads the build cache's summary line from go-image's log.
func summary(t *testing.T, stderr string) (remoteHits, misses, uploaded int) {
	t.Helper()
	m := regexp.MustCompile(`build cache \S+: \d+ lookups: \d+ local hits, (\d+) remote hits, (\d+) misses; \d+ stored; \d+ downloaded \([^)]*\), (\d+) uploaded`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no build cache summary in:\n%s", stderr)
	}
	n := func(s string) int { i, _ := strconv.Atoi(s); return i }
	return n(m[1]), n(m[2]), n(m[3])
}

// TestBuildWithBuildCache: a build with an empty GOCACHE fills the
// registry; the next one, with another empty GOCACHE, is served by it and
// gives the same image digest.
func TestBuildWithBuildCache(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles testdata/service with an empty GOCACHE")
	}
	noDockerConfig(t)
	host := testRegistry(t, nil)
	t.Setenv(buildcache.DefaultKeyEnv, testCacheKey)
	build := func() (digest, stderr string) {
		t.Setenv("GOCACHE", t.TempDir())
		out := filepath.Join(t.TempDir(), "service.tar")
		code, stdout, stderr := goImage(t, "build", "--source", "../../testdata/service", "--output", out, "--build-cache", host+"/ci/go-cache")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if strings.Contains(stdout+stderr, testCacheKey) {
			t.Fatal("the key was printed")
		}
		return strings.TrimSpace(stdout), stderr
	}
	d1, log1 := build()
	_, _, uploaded := summary(t, log1)
	if uploaded < 100 || !strings.Contains(log1, "index of") {
		t.Fatalf("the first build did not fill the cache:\n%s", log1)
	}
	d2, log2 := build()
	hits, misses, _ := summary(t, log2)
	t.Logf("first: %s\nsecond: %s", log1, log2)
	if d2 != d1 {
		t.Errorf("digest %s with the remote cache, %s without", d2, d1)
	}
	if hits < uploaded || misses > 2 {
		t.Errorf("second build: %d remote hits, %d misses; want every uploaded output hit (%d)", hits, misses, uploaded)
	}
}

func TestBuildCacheFlagErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.tar")
	base := []string{"build", "--source", "../../testdata/service", "--output", out}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    string
		notWant string
	}{
		{"no key", nil, []string{"--build-cache", "localhost:5000/cache"}, "$GOIMAGE_BUILD_CACHE_KEY is unset or empty", ""},
		{"short key", map[string]string{"GOIMAGE_BUILD_CACHE_KEY": "short"}, []string{"--build-cache", "localhost:5000/cache"}, "want at least 16", "short"},
		{"key value given as its name", nil, []string{"--build-cache", "localhost:5000/cache", "--build-cache-key-env", "s3cr3t=value"}, "give the NAME", "s3cr3t"},
		{"lower-case name not echoed", nil, []string{"--build-cache", "localhost:5000/cache", "--build-cache-key-env", "deadbeef1234"}, "unset or empty", "deadbeef1234"},
		{"implied Docker Hub", map[string]string{"GOIMAGE_BUILD_CACHE_KEY": testCacheKey}, []string{"--build-cache", "acme/cache"}, "registry written out", ""},
		{"digest", map[string]string{"GOIMAGE_BUILD_CACHE_KEY": testCacheKey}, []string{"--build-cache", "localhost:5000/cache@sha256:" + strings.Repeat("a", 64)}, "names a digest", ""},
		{"username alone", map[string]string{"GOIMAGE_BUILD_CACHE_KEY": testCacheKey}, []string{"--build-cache", "localhost:5000/cache", "--build-cache-username", "ci"}, "without a password variable", ""},
		{"password unset", map[string]string{"GOIMAGE_BUILD_CACHE_KEY": testCacheKey}, []string{"--build-cache", "localhost:5000/cache", "--build-cache-username", "ci", "--build-cache-password-env", "CACHE_TOKEN"}, "$CACHE_TOKEN is unset", ""},
		{"credentials without a cache", nil, []string{"--build-cache-username", "ci"}, "without --build-cache", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOIMAGE_BUILD_CACHE_KEY", "")
			t.Setenv("CACHE_TOKEN", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, _, stderr := goImage(t, append(base, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, tt.want)
			}
			if tt.notWant != "" && strings.Contains(stderr, tt.notWant) {
				t.Errorf("stderr repeats %q:\n%s", tt.notWant, stderr)
			}
		})
	}
}
