package e2e

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"dagger/go-image/internal/buildcache/buildcachetest"
	"dagger/go-image/internal/recipe"
)

// TestEngineBuildCache is with-build-cache in ephemeral CI: a tarball built
// with fresh cache volumes (a new --cache-namespace, which is what a fresh
// engine has) fills the registry's build cache; the next, with other fresh
// volumes, is served by it; a damaged object there is a miss. Every digest
// is the CLI's.
func TestEngineBuildCache(t *testing.T) {
	engine(t)
	if env.bridge == "" {
		t.Skip("SKIP (integration): GOIMAGE_E2E_BRIDGE unset: the builder containers reach the cache registry on the engine's bridge address")
	}
	t.Parallel()
	blobs := buildcachetest.RawBlobs{Dir: t.TempDir()}
	l, err := net.Listen("tcp", env.bridge+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(registry.New(registry.WithBlobHandler(blobs), registry.Logger(log.New(io.Discard, "", 0))))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	repo := l.Addr().String() + "/e2e/go-build-cache"
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("e2e-build-cache-key-0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := fmt.Sprintf("e2e-bc-%d", time.Now().UnixNano())
	want := digest(t, cliImage(t, testdata("service"), recipe.Options{}, ""))
	// tarball builds with the cache volumes of namespace ns, new each time,
	// and returns the builder's log.
	tarball := func(ns string) string {
		t.Helper()
		out := tmpPath(t, ns+".tar")
		r := call(t, "--source=./testdata/service", "--cache-namespace="+ns,
			"with-build-cache", "--repository="+repo, "--key=file:"+keyFile, "--insecure",
			"tarball", "export", "--path="+out)
		if r.err != nil {
			t.Fatalf("tarball with the build cache: %s", r.failed())
		}
		if got := digest(t, readImage(t, out)); got != want {
			t.Errorf("digest %s, want the CLI's %s", got, want)
		}
		if strings.Contains(r.stdout+r.stderr, "e2e-build-cache-key") {
			t.Error("the key was printed")
		}
		return r.stderr
	}
	remoteHits := func(log string) int {
		m := regexp.MustCompile(`(\d+) remote hits`).FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("no build cache summary in the log:\n%s", lastLines([]byte(log), 40))
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}

	if log := tarball(run + "-1"); !strings.Contains(log, "index of") {
		t.Fatalf("the first build did not fill the cache:\n%s", lastLines([]byte(log), 40))
	}
	if n := remoteHits(tarball(run + "-2")); n < 100 {
		t.Errorf("fresh cache volumes, warm registry: %d remote hits, want the build served by the registry", n)
	}
	// The lint's go vet runs with the cache program too: its JSON is read
	// past the program's own lines, and its tool (the module's binary)
	// needs nothing compiled.
	lint := call(t, "--source=./testdata/service", "--cache-namespace="+run+"-lint",
		"with-build-cache", "--repository="+repo, "--key=file:"+keyFile, "--insecure", "lint")
	if lint.err != nil {
		t.Fatalf("lint with the build cache: %s", lint.failed())
	}
	wantLines(t, lint.stdout, "PASS lint/httpshutdown", "PASS lint/healthmux")
	// Damage a package archive the link needs: the smallest object of
	// 64 KiB or more.
	files, _ := filepath.Glob(filepath.Join(blobs.Dir, "sha256", "*"))
	sort.Slice(files, func(i, j int) bool { return fileSize(files[i]) < fileSize(files[j]) })
	i := sort.Search(len(files), func(i int) bool { return fileSize(files[i]) >= 64<<10 })
	if i == len(files) {
		t.Fatal("no object of 64 KiB or more in the registry")
	}
	victim := files[i]
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if log := tarball(run + "-3"); !strings.Contains(log, "treated as a miss") {
		t.Errorf("a damaged object was not reported as a miss:\n%s", lastLines([]byte(log), 40))
	}
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}
