package push

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

var fast = remote.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 5}

// anonymous is a keychain with nothing in it, so tests never read the
// machine's docker config.
type anonymous struct{}

func (anonymous) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func newRegistry() http.Handler {
	return registry.New(registry.Logger(log.New(io.Discard, "", 0)))
}

func testImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func opts() Options { return Options{Backoff: &fast, Keychain: anonymous{}} }

// pulled returns the digest the tag resolves to in the registry.
func pulled(t *testing.T, ref string) (v1.Hash, error) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		return v1.Hash{}, err
	}
	return d.Digest, nil
}

func TestPushPullBack(t *testing.T) {
	host := serve(t, newRegistry())
	img := testImage(t)
	want, _ := img.Digest()
	var logs bytes.Buffer
	o := opts()
	o.Log = &logs
	addrs := []string{host + "/acme/api:1.2.3", host + "/acme/api:latest", host + "/mirror/api:1.2.3"}
	res, err := Push(context.Background(), img, addrs, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want {
		t.Errorf("result digest %s, want %s", res.Digest, want)
	}
	if got, wantRef := res.Ref(), host+"/acme/api@"+want.String(); got != wantRef {
		t.Errorf("ref = %s, want %s", got, wantRef)
	}
	if len(res.References) != 2 || len(res.Tags) != 3 {
		t.Errorf("references %v tags %v: want one per repository and one per address", res.References, res.Tags)
	}
	for _, a := range addrs {
		got, err := pulled(t, a)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		if got != want {
			t.Errorf("%s resolves to %s, want %s", a, got, want)
		}
	}
	// Pull the whole image back, not just the manifest.
	r, _ := name.ParseReference(addrs[0])
	back, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := back.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("pulled layers = %d, %v", len(layers), err)
	}
	for _, l := range layers {
		if _, err := io.Copy(io.Discard, mustOpen(t, l)); err != nil {
			t.Errorf("layer blob unreadable: %v", err)
		}
	}
	if !strings.Contains(logs.String(), "anonymous") {
		t.Errorf("log does not say which credentials were used:\n%s", logs.String())
	}
}

func mustOpen(t *testing.T, l v1.Layer) io.Reader {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

// flaky wraps a registry, failing the requests fail picks. It records every
// request in order as "METHOD path".
type flaky struct {
	next http.Handler
	fail func(r *http.Request, n int) string // "", "503" or "reset"
	mu   sync.Mutex
	seen map[string]int
	log  []string
	hits int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	key := r.Method + " " + kind(r.URL.Path)
	f.seen[key]++
	action := f.fail(r, f.seen[key])
	f.log = append(f.log, r.Method+" "+r.URL.Path)
	if action != "" {
		f.hits++
	}
	f.mu.Unlock()
	switch action {
	case "503":
		http.Error(w, "try later", http.StatusServiceUnavailable)
	case "reset":
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST, not FIN: a real connection reset
		}
		conn.Close()
	default:
		f.next.ServeHTTP(w, r)
	}
}

func kind(p string) string {
	switch {
	case strings.Contains(p, "/blobs/uploads"):
		return "upload"
	case strings.Contains(p, "/blobs/"):
		return "blob"
	case strings.Contains(p, "/manifests/"):
		return "manifest"
	}
	return p
}

func TestRetriesTransientFailures(t *testing.T) {
	f := &flaky{next: newRegistry(), seen: map[string]int{}, fail: func(r *http.Request, n int) string {
		switch r.Method + " " + kind(r.URL.Path) {
		case "POST upload":
			if n <= 2 {
				return "503"
			}
		case "PATCH upload", "PUT upload":
			if n == 1 {
				return "reset"
			}
		case "PUT manifest":
			if n == 1 {
				return "reset"
			}
			if n == 2 {
				return "503"
			}
		}
		return ""
	}}
	host := serve(t, f)
	img := testImage(t)
	want, _ := img.Digest()
	res, err := Push(context.Background(), img, []string{host + "/acme/api:v1"}, opts())
	if err != nil {
		t.Fatalf("push through transient failures: %v", err)
	}
	if f.hits < 4 {
		t.Fatalf("only %d failures injected: the test did not exercise retries", f.hits)
	}
	got, err := pulled(t, host+"/acme/api:v1")
	if err != nil || got != want || res.Digest != want {
		t.Fatalf("after retries: tag -> %s (%v), result %s, want %s", got, err, res.Digest, want)
	}
}

// TestNoTagOnPartialPush: when the registry keeps failing, the push gives up
// after bounded retries and the tag is never written.
func TestNoTagOnPartialPush(t *testing.T) {
	tests := []struct {
		name string
		fail string // request kind that always fails
	}{
		{"blob upload", "PUT upload"},
		{"manifest", "PUT manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{next: newRegistry(), seen: map[string]int{}, fail: func(r *http.Request, n int) string {
				if r.Method+" "+kind(r.URL.Path) == tt.fail {
					return "503"
				}
				return ""
			}}
			host := serve(t, f)
			_, err := Push(context.Background(), testImage(t), []string{host + "/acme/api:v1"}, opts())
			if err == nil || !strings.Contains(err.Error(), "after retries") {
				t.Fatalf("err = %v, want a give-up error", err)
			}
			if f.seen[tt.fail] < 2 || f.seen[tt.fail] > 20 {
				t.Errorf("%s tried %d times: want bounded retries", tt.fail, f.seen[tt.fail])
			}
			if _, err := pulled(t, host+"/acme/api:v1"); err == nil {
				t.Error("tag exists after a failed push")
			}
		})
	}
}

// TestTagsLast: no tag is written before the manifest by digest and every
// blob are in place.
func TestTagsLast(t *testing.T) {
	f := &flaky{next: newRegistry(), seen: map[string]int{}, fail: func(*http.Request, int) string { return "" }}
	host := serve(t, f)
	img := testImage(t)
	d, _ := img.Digest()
	if _, err := Push(context.Background(), img, []string{host + "/acme/api:v1", host + "/acme/api:v2"}, opts()); err != nil {
		t.Fatal(err)
	}
	firstTag, lastOther := -1, -1
	for i, l := range f.log {
		isTag := strings.HasPrefix(l, "PUT ") && strings.Contains(l, "/manifests/") && !strings.Contains(l, "/manifests/sha256:")
		switch {
		case isTag && firstTag < 0:
			firstTag = i
		case !isTag && (strings.HasPrefix(l, "PUT ") || strings.HasPrefix(l, "PATCH ") || strings.HasPrefix(l, "POST ")):
			lastOther = i
		}
	}
	if firstTag < 0 || lastOther < 0 || firstTag < lastOther {
		t.Errorf("a tag was written before the upload finished (first tag PUT #%d, last blob/digest write #%d):\n%s",
			firstTag, lastOther, strings.Join(f.log, "\n"))
	}
	if !contains(f.log, "PUT /v2/acme/api/manifests/"+d.String()) {
		t.Errorf("manifest never written by digest:\n%s", strings.Join(f.log, "\n"))
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// basicAuth requires user:pass on every request, like a registry with
// basic auth.
func basicAuth(next http.Handler, user, pass string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

const secret = "s3cr3t-Pa55-do-not-print"

func TestAuth(t *testing.T) {
	host := serve(t, basicAuth(newRegistry(), "alice", secret))
	img := testImage(t)
	tests := []struct {
		name    string
		creds   Credentials
		wantErr []string
	}{
		{"wrong password", Credentials{Username: "alice", Password: "wrong-" + secret, PasswordFrom: "$TOKEN"}, []string{"401", `username "alice"`, "$TOKEN", "docker login"}},
		{"anonymous", Credentials{}, []string{"401", "anonymous"}},
		{"empty password", Credentials{Username: "alice", PasswordFrom: "$TOKEN"}, []string{"empty", "$TOKEN"}},
		{"right password", Credentials{Username: "alice", Password: secret, PasswordFrom: "$TOKEN"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			o := opts()
			o.Credentials = tt.creds
			o.Log = &logs
			_, err := Push(context.Background(), img, []string{host + "/acme/api:v1"}, o)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if err == nil {
					t.Fatal("push succeeded, want an auth error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
			}
			out := logs.String()
			if err != nil {
				out += err.Error()
			}
			if strings.Contains(out, secret) {
				t.Errorf("password printed:\n%s", out)
			}
		})
	}
}

// TestRedact: even if a layer below echoes the password, it is not printed.
func TestRedact(t *testing.T) {
	o := Options{Credentials: Credentials{Username: "u", Password: secret}}
	err := o.redact(fmt.Errorf("proxy said: bad header Basic u:%s: %w", secret, context.Canceled))
	if strings.Contains(err.Error(), secret) || !errors.Is(err, context.Canceled) {
		t.Errorf("redacted = %v (Is canceled: %v)", err, errors.Is(err, context.Canceled))
	}
}

func TestErrors(t *testing.T) {
	// A port nothing listens on: bind, note, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()

	notFound := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`)
	}))
	forbidden := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`)
	}))
	tests := []struct {
		name    string
		addrs   []string
		wantErr []string
	}{
		{"no address", nil, []string{"no address"}},
		{"bad reference", []string{"Not A Ref!"}, []string{"address", "REGISTRY/REPO:TAG"}},
		{"implicit tag", []string{"registry.example/acme/api"}, []string{"explicit registry and tag"}},
		{"digest", []string{"registry.example/acme/api@sha256:" + strings.Repeat("a", 64)}, []string{"names a digest"}},
		{"unreachable", []string{dead + "/acme/api:v1"}, []string{"unreachable", "check the address"}},
		{"unknown repository", []string{notFound + "/acme/api:v1"}, []string{"unknown", "404", "create it first"}},
		{"forbidden", []string{forbidden + "/acme/api:v1"}, []string{"403", "write access", "anonymous"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Push(context.Background(), testImage(t), tt.addrs, opts())
			if err == nil {
				t.Fatal("push succeeded")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("put: %w", io.EOF), true},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{errors.New("manifest invalid"), false},
		{&net.OpError{Op: "read", Net: "tcp", Err: timeout{}}, true},
		{&transport.Error{StatusCode: http.StatusServiceUnavailable}, true},
		{&transport.Error{StatusCode: http.StatusUnauthorized}, false},
		{&transport.Error{StatusCode: http.StatusNotFound, Errors: []transport.Diagnostic{{Code: transport.NameUnknownErrorCode}}}, false},
	}
	for _, tt := range tests {
		if got := Transient(tt.err); got != tt.want {
			t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestUploadWritesNoTag(t *testing.T) {
	host := serve(t, newRegistry())
	img := testImage(t)
	d, _ := img.Digest()
	res, err := Upload(context.Background(), img, []string{host + "/acme/api:v1"}, opts())
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref() != host+"/acme/api@"+d.String() || len(res.Tags) != 0 {
		t.Errorf("result = %+v", res)
	}
	if got, err := pulled(t, res.Ref()); err != nil || got != d {
		t.Errorf("by digest: %s %v", got, err)
	}
	repo, _ := name.NewRepository(host + "/acme/api")
	if tags, err := remote.List(repo); err != nil || len(tags) != 0 {
		t.Errorf("tags = %v (%v), want none", tags, err)
	}
}

type timeout struct{}

func (timeout) Error() string   { return "i/o timeout" }
func (timeout) Timeout() bool   { return true }
func (timeout) Temporary() bool { return true }

func TestLoopback(t *testing.T) {
	for reg, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:5000": true, "127.1.2.3": true, "[::1]:5000": true, "localhost": true,
		"10.89.0.1:5000": false, "ghcr.io": false, "registry.local:5000": false,
	} {
		if got := Loopback(reg); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", reg, got, want)
		}
	}
}

// TestDialVia pushes to an address whose host does not exist, through a
// transport that reaches the real registry instead: the way the Dagger
// module pushes to a registry on the caller's loopback.
func TestDialVia(t *testing.T) {
	endpoint := serve(t, newRegistry())
	img := testImage(t)
	o := opts()
	o.Transport = DialVia("localhost:5999", endpoint)
	res, err := Push(context.Background(), img, []string{"localhost:5999/app/svc:1"}, o)
	if err != nil {
		t.Fatalf("push via %s: %v", endpoint, err)
	}
	want, _ := img.Digest()
	got, err := pulled(t, endpoint+"/app/svc:1")
	if err != nil {
		t.Fatal(err)
	}
	if got != want || res.Digest != want {
		t.Errorf("pushed %s, registry has %s, want %s", res.Digest, got, want)
	}
}

// Only the registry's own address is dialed at the endpoint; other hosts,
// and other ports of the registry's host, are dialed as they are.
func TestViaDialRoutesTheRegistryOnly(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"reg:5000", "10.89.0.9:5000"},
		{"other:443", "other:443"},
		{"reg:5001", "reg:5001"},
	} {
		var dialed string
		dial := func(_ context.Context, _, addr string) (net.Conn, error) {
			dialed = addr
			c, _ := net.Pipe()
			return c, nil
		}
		c, err := viaDial("reg:5000", "10.89.0.9:5000", dial)(t.Context(), "tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if dialed != tc.want {
			t.Errorf("dial %s reached %s, want %s", tc.addr, dialed, tc.want)
		}
	}
}
