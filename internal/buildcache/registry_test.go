package buildcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/buildcache/buildcachetest"
	"dagger/go-image/internal/safetext"
)

// testRegistry is go-containerregistry's registry in process, its blobs on
// disk where a test can damage them.
type testRegistry struct {
	srv   *httptest.Server
	blobs string
}

func newTestRegistry(t *testing.T, wrap func(http.Handler) http.Handler) *testRegistry {
	t.Helper()
	blobs := t.TempDir()
	var h http.Handler = ggcrregistry.New(ggcrregistry.WithBlobHandler(buildcachetest.RawBlobs{Dir: blobs}), ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testRegistry{srv: srv, blobs: blobs}
}

func (r *testRegistry) ref() string { return strings.TrimPrefix(r.srv.URL, "http://") + "/ci/go-cache" }

func (r *testRegistry) blobPath(o ID) string {
	return buildcachetest.RawBlobs{Dir: r.blobs}.Path(v1.Hash{Algorithm: "sha256", Hex: o.String()})
}

// logBuffer is a concurrency-safe log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func openCache(t *testing.T, ref string, edit func(*Remote)) (*Cache, *logBuffer) {
	t.Helper()
	log := &logBuffer{}
	r := &Remote{Ref: ref, Key: testKey, Keychain: authn.NewMultiKeychain()}
	if edit != nil {
		edit(r)
	}
	c, err := Open(context.Background(), Options{Dir: t.TempDir(), Remote: r, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return c, log
}

type object struct {
	action ID
	body   []byte
}

func (o object) output() ID { return ID(sha256.Sum256(o.body)) }

var objects = []object{
	{sum("compile fmt"), bytes.Repeat([]byte("fmt archive "), 1000)},
	{sum("compile os"), []byte("os archive")},
	{sum("vet config"), nil},
}

// fill puts objects through a fresh cache and closes it.
func fill(t *testing.T, ref string, edit func(*Remote), objs ...object) (Stats, string) {
	t.Helper()
	c, log := openCache(t, ref, edit)
	for _, o := range objs {
		if _, err := c.Put(context.Background(), o.action, o.output(), int64(len(o.body)), bytes.NewReader(o.body)); err != nil {
			t.Fatal(err)
		}
	}
	return c.Close(context.Background()), log.String()
}

// get asks a fresh cache for o and reports whether it hit and returned o's
// exact bytes; a hit on other bytes fails the test.
func get(t *testing.T, c *Cache, o object) bool {
	t.Helper()
	e, ok := c.Get(context.Background(), o.action)
	if !ok {
		return false
	}
	b, err := os.ReadFile(e.DiskPath)
	if err != nil {
		t.Fatal(err)
	}
	if e.OutputID != o.output() || e.Size != int64(len(o.body)) || !bytes.Equal(b, o.body) {
		t.Fatalf("hit on the wrong object for %s: %d bytes, output %s", o.action, len(b), e.OutputID)
	}
	return true
}

// indexed reports whether c's registry index maps action.
func indexed(c *Cache, action ID) bool {
	c.remote.waitLoaded(context.Background())
	c.remote.mu.Lock()
	defer c.remote.mu.Unlock()
	_, ok := c.remote.index[action]
	return ok
}

func TestRemoteRoundTrip(t *testing.T) {
	reg := newTestRegistry(t, nil)
	s, log := fill(t, reg.ref(), nil, objects...)
	if s.Puts != 3 || s.Uploads != 2 || !s.IndexWritten || s.IndexEntries != 3 {
		t.Fatalf("first run: %s", s)
	}
	if !strings.Contains(log, "holds no cache yet") {
		t.Errorf("first run log lacks the empty-cache note:\n%s", log)
	}

	c, log2 := openCache(t, reg.ref(), nil)
	for _, o := range objects {
		if !get(t, c, o) {
			t.Errorf("miss on %s from a filled registry", o.action)
		}
	}
	if get(t, c, object{action: sum("never built")}) {
		t.Error("hit on an action nobody put")
	}
	s2 := c.Close(context.Background())
	if s2.RemoteHits != 3 || s2.Misses != 1 || s2.Downloads != 2 || s2.Corrupt != 0 {
		t.Errorf("second run: %s", s2)
	}
	if s2.IndexWritten {
		t.Error("the index was rewritten though nothing changed")
	}
	if strings.Contains(log2.String(), "build cache: ") {
		t.Errorf("warnings on a clean run:\n%s", log2)
	}
}

func TestRemoteDamagedObjectIsAMiss(t *testing.T) {
	o := objects[0]
	tests := []struct {
		name    string
		content []byte
	}{
		{"same size, other bytes", bytes.Repeat([]byte("FMT ARCHIVE "), 1000)},
		{"longer", append(append([]byte(nil), o.body...), "and more"...)},
		{"oversized", bytes.Repeat([]byte("x"), 4<<20)},
		{"shorter", o.body[:100]},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newTestRegistry(t, nil)
			fill(t, reg.ref(), nil, objects...)
			if err := os.WriteFile(reg.blobPath(o.output()), tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			c, log := openCache(t, reg.ref(), nil)
			if get(t, c, o) {
				t.Fatal("hit on a damaged object")
			}
			if !get(t, c, objects[1]) {
				t.Error("an intact object missed after a damaged one")
			}
			s := c.Close(context.Background())
			if s.Corrupt != 1 {
				t.Errorf("corrupt = %d, want 1 (%s)", s.Corrupt, s)
			}
			if !strings.Contains(log.String(), "treated as a miss") {
				t.Errorf("no warning:\n%s", log)
			}
			// The index written after the damage no longer lists it.
			if !s.IndexWritten {
				t.Fatalf("the index was not rewritten without the damaged entry: %s", s)
			}
			c3, _ := openCache(t, reg.ref(), nil)
			if indexed(c3, o.action) {
				t.Error("the index written after the damage still maps the action to it")
			}
		})
	}
}

// An attacker who can write to the registry but lacks the key points an
// action at another valid output: the build must not get it.
func TestRemoteForgedMappingIsAMiss(t *testing.T) {
	reg := newTestRegistry(t, nil)
	victim, other := objects[0], objects[1]
	fill(t, reg.ref(), nil, victim, other)
	attacker := func(r *Remote) { r.Key = []byte("the attacker's own key, 16+ bytes") }
	s, _ := fill(t, reg.ref(), attacker, object{action: victim.action, body: other.body})
	if !s.IndexWritten || s.BadEntries != 2 {
		t.Fatalf("attacker's run: %s", s)
	}
	c, log := openCache(t, reg.ref(), nil)
	if get(t, c, victim) {
		t.Fatal("hit after the forged mapping") // get fails the test on other bytes anyway
	}
	if s := c.Close(context.Background()); s.BadEntries != 1 {
		t.Errorf("bad entries = %d, want 1 (%s)", s.BadEntries, s)
	}
	if !strings.Contains(log.String(), "failed their MAC") {
		t.Errorf("no warning:\n%s", log)
	}
}

func TestRemoteConcurrentWritersMerge(t *testing.T) {
	reg := newTestRegistry(t, nil)
	a, _ := openCache(t, reg.ref(), nil)
	b, _ := openCache(t, reg.ref(), nil)
	ctx := context.Background()
	for c, o := range map[*Cache]object{a: objects[0], b: objects[1]} {
		if _, err := c.Put(ctx, o.action, o.output(), int64(len(o.body)), bytes.NewReader(o.body)); err != nil {
			t.Fatal(err)
		}
	}
	a.Close(ctx)
	b.Close(ctx)
	c, _ := openCache(t, reg.ref(), nil)
	if !get(t, c, objects[0]) || !get(t, c, objects[1]) {
		t.Error("the second writer dropped the first one's entries")
	}
}

func TestRemoteUnreachable(t *testing.T) {
	reg := newTestRegistry(t, nil)
	ref := reg.ref()
	reg.srv.Close()
	c, log := openCache(t, ref, nil)
	o := objects[0]
	ctx := context.Background()
	if _, err := c.Put(ctx, o.action, o.output(), int64(len(o.body)), bytes.NewReader(o.body)); err != nil {
		t.Fatal(err)
	}
	if !get(t, c, o) {
		t.Error("local miss after a put with the registry down")
	}
	if get(t, c, objects[1]) {
		t.Error("hit on an action nobody put")
	}
	s := c.Close(ctx)
	if s.LocalHits != 1 || s.Misses != 1 || s.Uploads != 0 {
		t.Errorf("stats: %s", s)
	}
	if n := strings.Count(log.String(), "build cache: "); n != 1 || !strings.Contains(log.String(), "unreachable") {
		t.Errorf("want one warning line saying unreachable, got %d:\n%s", n, log)
	}
}

func TestRemoteAuth(t *testing.T) {
	const user, password = "ci", "s3cret-pass-123"
	// A hostile registry echoes the credentials it got in its error body.
	reg := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"got ` + r.Header.Get("Authorization") + " i.e. " + p + `"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	creds := func(pw string) func(*Remote) {
		return func(r *Remote) { r.Username, r.Password, r.PasswordFrom = user, pw, "$CACHE_TOKEN" }
	}
	wrong := "wrong-pass-456"
	s, log := fill(t, reg.ref(), creds(wrong), objects...)
	if s.Uploads != 0 || s.IndexWritten {
		t.Errorf("wrong password: %s", s)
	}
	for _, secret := range []string{wrong, base64.StdEncoding.EncodeToString([]byte(user + ":" + wrong)), string(testKey)} {
		if strings.Contains(log, secret) {
			t.Errorf("log shows a secret %q:\n%s", secret, log)
		}
	}
	t.Log(log)
	if !strings.Contains(log, "[REDACTED]") || !strings.Contains(log, "$CACHE_TOKEN") {
		t.Errorf("want the echoed secret redacted and its source named:\n%s", log)
	}
	if s, _ := fill(t, reg.ref(), creds(password), objects...); s.Uploads != 2 || !s.IndexWritten {
		t.Errorf("right password: %s", s)
	}
	c, _ := openCache(t, reg.ref(), creds(password))
	if !get(t, c, objects[0]) {
		t.Error("miss with the right password")
	}
}

// A tag that holds something else is never overwritten.
func TestRemoteTagOfAnImage(t *testing.T) {
	reg := newTestRegistry(t, nil)
	tag, err := name.NewTag(reg.ref() + ":" + DefaultTag)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(100, 1)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	s, log := fill(t, reg.ref(), nil, objects...)
	if s.IndexWritten || s.Uploads != 0 {
		t.Errorf("stats: %s", s)
	}
	if !strings.Contains(log, "not a go-image build cache") {
		t.Errorf("log:\n%s", log)
	}
	d, err := remote.Head(tag)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := img.Digest(); d.Digest != want {
		t.Errorf("the image's tag now names %s", d.Digest)
	}
}

// Answers that break the bounds are read as no cache, never trusted.
func TestRemoteHostileAnswers(t *testing.T) {
	tests := []struct {
		name string
		path string // answered by the hostile handler
		body []byte
		want string
	}{
		{"manifest over the limit", "/manifests/", bytes.Repeat([]byte(" "), MaxManifestSize+10), "over the"},
		{"manifest not JSON", "/manifests/", []byte("<html>hello</html>"), "not a go-image build cache"},
		{"index blob not its digest", "/blobs/", []byte(`{"version":1,"entries":[]}`), "does not match its digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hostile atomic.Bool
			reg := newTestRegistry(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if hostile.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, tt.path) {
						w.Write(tt.body)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			fill(t, reg.ref(), nil, objects...)
			hostile.Store(true)
			c, log := openCache(t, reg.ref(), nil)
			if get(t, c, objects[0]) {
				t.Error("hit through a hostile answer")
			}
			c.Close(context.Background())
			if !strings.Contains(log.String(), tt.want) {
				t.Errorf("log lacks %q:\n%s", tt.want, log)
			}
		})
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		ref, want, err string
	}{
		{"ghcr.io/acme/go-cache", "ghcr.io/acme/go-cache:" + DefaultTag, ""},
		{"localhost:5000/cache:amd64", "localhost:5000/cache:amd64", ""},
		{"acme/go-cache", "", "registry written out"},
		{"ghcr.io/acme/go-cache@sha256:" + strings.Repeat("0", 64), "", "names a digest"},
		{"ghcr.io/ACME/x", "", "registry written out"},
	}
	for _, tt := range tests {
		got, err := ParseRef(tt.ref, false)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseRef(%q) = %v, %v; want error %q", tt.ref, got, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseRef(%q) = %v, %v; want %s", tt.ref, got, err, tt.want)
		}
	}
}

// Credentials that may read but not write give a warm start, one warning,
// and no index write.
func TestRemoteReadOnly(t *testing.T) {
	var readOnly atomic.Bool
	reg := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if readOnly.Load() && r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"errors":[{"code":"DENIED","message":"read-only token"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	fill(t, reg.ref(), nil, objects[0])
	readOnly.Store(true)
	c, log := openCache(t, reg.ref(), nil)
	if !get(t, c, objects[0]) {
		t.Error("miss with read-only credentials")
	}
	o := objects[1]
	if _, err := c.Put(context.Background(), o.action, o.output(), int64(len(o.body)), bytes.NewReader(o.body)); err != nil {
		t.Fatal(err)
	}
	s := c.Close(context.Background())
	if s.RemoteHits != 1 || s.Uploads != 0 || s.IndexWritten {
		t.Errorf("stats: %s", s)
	}
	if n := strings.Count(log.String(), "build cache: "); n != 1 || !strings.Contains(log.String(), "push access") {
		t.Errorf("want one warning about push access, got %d:\n%s", n, log)
	}
}

// A cache registry's error message is quoted in go-image's warning: it
// must not be a command to the CI runner that shows the log ("##[" runs
// anywhere in a line; "::" after a newline the message carried).
func TestRemoteErrorRunsNoRunnerCommand(t *testing.T) {
	for _, msg := range []string{"##[add-mask]FAIL", "\n::stop-commands::pwn", "\u2028 ::error::forged"} {
		t.Run(msg, func(t *testing.T) {
			reg := newTestRegistry(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusForbidden)
					b, _ := json.Marshal(msg)
					w.Write([]byte(`{"errors":[{"code":"DENIED","message":` + string(b) + `}]}`))
				})
			})
			c, log := openCache(t, reg.ref(), nil)
			get(t, c, objects[0])
			c.Close(context.Background())
			if !strings.Contains(log.String(), "DENIED") {
				t.Fatalf("the registry's error is not shown:\n%s", log)
			}
			for _, l := range strings.Split(log.String(), "\n") {
				if cmd := safetext.Command(l); cmd != "" {
					t.Errorf("a runner reads command %q in %q", cmd, l)
				}
			}
		})
	}
}
