package buildcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// staticKeychain is a docker config that holds cfg for every registry.
type staticKeychain struct{ cfg authn.AuthConfig }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(k.cfg), nil
}

// A hostile registry echoes whatever credential it got into its error
// body: credentials from the docker config (a password, an identity token)
// and the bearer token a token server issued must be redacted like a
// --build-cache-password is.
func TestRemoteEchoedCredentialsAreRedacted(t *testing.T) {
	const bearer = "bearer-token-from-the-token-server-0123456789"
	tests := []struct {
		name    string
		cfg     authn.AuthConfig
		token   bool // the registry sends clients to a token server
		secrets []string
	}{
		{"docker config password", authn.AuthConfig{Username: "ci", Password: "docker-config-pass-123"}, false,
			[]string{"docker-config-pass-123", base64.StdEncoding.EncodeToString([]byte("ci:docker-config-pass-123"))}},
		{"docker config auth field", authn.AuthConfig{Auth: base64.StdEncoding.EncodeToString([]byte("ci:auth-field-pass-456"))}, false,
			[]string{"auth-field-pass-456", base64.StdEncoding.EncodeToString([]byte("ci:auth-field-pass-456"))}},
		{"registry token", authn.AuthConfig{RegistryToken: "registry-token-789-abcdef"}, false, []string{"registry-token-789-abcdef"}},
		{"bearer token", authn.AuthConfig{Username: "ci", Password: "token-server-pass-000"}, true,
			[]string{bearer, "token-server-pass-000", base64.StdEncoding.EncodeToString([]byte("ci:token-server-pass-000"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var realm string
			reg := newTestRegistry(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/token" {
						w.Write([]byte(`{"token":"` + bearer + `"}`))
						return
					}
					authz := r.Header.Get("Authorization")
					if authz == "" {
						if tt.token {
							w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`",service="test"`)
						} else {
							w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
						}
						w.WriteHeader(http.StatusUnauthorized)
						return
					}
					// Every credential-bearing request is refused, quoting it.
					_, p, _ := r.BasicAuth()
					w.WriteHeader(http.StatusForbidden)
					w.Write([]byte(`{"errors":[{"code":"DENIED","message":"got ` + authz + " i.e. " + p + `"}]}`))
				})
			})
			realm = reg.srv.URL + "/token"
			c, log := openCache(t, reg.ref(), func(r *Remote) { r.Keychain = staticKeychain{tt.cfg} })
			get(t, c, objects[0])
			c.Close(context.Background())
			if !strings.Contains(log.String(), "DENIED") {
				t.Fatalf("the registry's error is not shown:\n%s", log)
			}
			for _, s := range tt.secrets {
				if strings.Contains(log.String(), s) {
					t.Errorf("log shows the secret %q:\n%s", s, log)
				}
			}
		})
	}
}

// A registry that answers a blob's headers and then drips its body (or
// stops) must cost the build one stall, not one per object: the go
// command's gets wait on those downloads.
func TestRemoteSlowDripBlobs(t *testing.T) {
	defer func(o, s time.Duration) { objectTimeout, stallTimeout = o, s }(objectTimeout, stallTimeout)
	objectTimeout, stallTimeout = 2*time.Second, 100*time.Millisecond

	var objs []object
	outputs := map[string]bool{}
	for i := range 40 {
		o := object{sum(fmt.Sprint("compile ", i)), bytes.Repeat([]byte{byte(i)}, 1000+i)}
		objs = append(objs, o)
		outputs["sha256:"+o.output().String()] = true
	}
	var hostile atomic.Bool
	var stalled atomic.Int64
	reg := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
			if hostile.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") && outputs[d] {
				stalled.Add(1)
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	fill(t, reg.ref(), nil, objs...)
	hostile.Store(true)
	c, log := openCache(t, reg.ref(), nil)
	start := time.Now()
	for _, o := range objs {
		if get(t, c, o) {
			t.Fatal("hit on a blob that never finished")
		}
	}
	took := time.Since(start)
	c.Close(context.Background())
	if n := stalled.Load(); n > Jobs+1 {
		t.Errorf("%d stalled downloads for %d objects: a registry that stalls must turn reads off after the first", n, len(objs))
	}
	if took > 3*objectTimeout {
		t.Errorf("the gets took %s", took)
	}
	if !strings.Contains(log.String(), "local cache only") {
		t.Errorf("want a warning that reads are off:\n%s", log)
	}
}

// A shared cache directory (a CI cache restored from another job) may hold
// a symlink where an object belongs, and an action record pointing at it:
// the go command must not be handed a file outside the cache, and the bytes
// of a file the object is not (a credential file of the same size) must
// never be sent to the registry under the object's name.
func TestLocalPlantedObjectNeverLeaves(t *testing.T) {
	secret := []byte(`{"auths":{"ghcr.io":{"auth":"c2VjcmV0LXNlY3JldC1zZWNyZXQ="}}}`)
	secretFile := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	claimed := ID(sha256.Sum256(bytes.Repeat([]byte("a"), len(secret)))) // an output of the same size
	tests := []struct {
		name  string
		plant func(objectPath string) error
	}{
		{"symlink to a file outside the cache", func(p string) error { return os.Symlink(secretFile, p) }},
		{"regular file with other bytes", func(p string) error { return os.WriteFile(p, secret, 0o644) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent bytes.Buffer
			var mu sync.Mutex
			reg := newTestRegistry(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPatch || r.Method == http.MethodPut || r.Method == http.MethodPost {
						b, _ := io.ReadAll(r.Body)
						mu.Lock()
						sent.Write(b)
						mu.Unlock()
						r.Body = io.NopCloser(bytes.NewReader(b))
					}
					next.ServeHTTP(w, r)
				})
			})
			c, _ := openCache(t, reg.ref(), nil)
			action := sum("compile planted")
			p := c.local.objectPath(claimed)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tt.plant(p); err != nil {
				t.Fatal(err)
			}
			if err := c.local.putAction(action, claimed, int64(len(secret))); err != nil {
				t.Fatal(err)
			}
			e, ok := c.Get(context.Background(), action)
			if ok && e.DiskPath != "" {
				if st, err := os.Lstat(e.DiskPath); err != nil || !st.Mode().IsRegular() {
					t.Errorf("get answered %s, not a regular file in the cache (%v)", e.DiskPath, err)
				}
			}
			c.Close(context.Background())
			mu.Lock()
			defer mu.Unlock()
			if bytes.Contains(sent.Bytes(), secret) {
				t.Errorf("the planted file's bytes were uploaded to the registry as sha256:%s", claimed)
			}
		})
	}
}

// A registry may redirect a blob to storage elsewhere (as S3-backed ones
// do): the credentials must not follow it to another host.
func TestRemoteRedirectKeepsCredentials(t *testing.T) {
	const user, password = "ci", "redirect-pass-123"
	var leaked atomic.Value
	leaked.Store("")
	var asked atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if a := r.Header.Get("Authorization"); a != "" {
			leaked.Store(a)
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(elsewhere.Close)
	var redirect atomic.Bool
	reg := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, p, ok := r.BasicAuth(); !ok || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if redirect.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	creds := func(r *Remote) { r.Username, r.Password, r.PasswordFrom = user, password, "$CACHE_TOKEN" }
	fill(t, reg.ref(), creds, objects...)
	redirect.Store(true)
	c, _ := openCache(t, reg.ref(), creds)
	get(t, c, objects[0])
	c.Close(context.Background())
	if asked.Load() == 0 {
		t.Fatal("the redirect was not followed: the test proves nothing")
	}
	if a := leaked.Load().(string); a != "" {
		t.Errorf("a redirect to %s carried Authorization %q", elsewhere.URL, a)
	}
}

// SIGTERM or Ctrl-C (Main's ctx cancelled) ends the cache program promptly
// even when the registry holds its uploads open: the go command waits for
// the answer to "close", so a flush that ignored the signal held the
// stopped build for FlushTimeout.
func TestMainSignalEndsAStalledFlush(t *testing.T) {
	reg := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				<-r.Context().Done() // uploads never finish
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	t.Setenv("K", testCacheKeyValue)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, []string{"--repository", reg.ref(), "--key-env", "K", "--insecure", "--dir", t.TempDir()}, inR, outW, &logBuffer{})
		outW.Close()
	}()
	go io.Copy(io.Discard, outR)
	o := objects[0]
	fmt.Fprintf(inW, `{"ID":1,"Command":"put","ActionID":"%s","OutputID":"%s","BodySize":%d}`+"\n\"%s\"\n",
		b64(o.action), b64(o.output()), len(o.body), base64.StdEncoding.EncodeToString(o.body))
	time.Sleep(300 * time.Millisecond) // the upload starts, and stalls
	cancel()
	fmt.Fprintf(inW, `{"ID":2,"Command":"close"}`+"\n")
	inW.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the cache program still flushing 5s after the signal")
	}
}

// A registry that stalls the manifest's body when the index is re-read at
// the end holds the go command's "close" for FlushTimeout unless every
// read, not only an object's, gives up on a silent body.
func TestRemoteStalledManifestAtFlush(t *testing.T) {
	defer func(s time.Duration) { stallTimeout = s }(stallTimeout)
	stallTimeout = 100 * time.Millisecond
	var manifests atomic.Int64
	var hostile atomic.Bool
	reg := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hostile.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") && manifests.Add(1) > 1 {
				w.Write([]byte("{"))
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	fill(t, reg.ref(), nil, objects[0])
	hostile.Store(true)
	c, log := openCache(t, reg.ref(), nil)
	o := objects[1]
	if _, err := c.Put(context.Background(), o.action, o.output(), int64(len(o.body)), bytes.NewReader(o.body)); err != nil {
		t.Fatal(err)
	}
	done := make(chan Stats, 1)
	go func() { done <- c.Close(context.Background()) }()
	select {
	case s := <-done:
		if s.IndexWritten {
			t.Errorf("index written over a manifest never read: %s", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Close still waiting on a stalled manifest after 5s:\n%s", log)
	}
}

// A registry's error body is quoted cut to a length: a credential it
// echoes across the cut must not be shown in part, the part no longer
// matching the secret the redaction looks for.
func TestRemoteEchoedCredentialAcrossTheCut(t *testing.T) {
	const user, password = "ci", "cut-across-pass-0123456789abcdef"
	for _, pad := range []int{270, 280, 290, 295} {
		t.Run(fmt.Sprint(pad), func(t *testing.T) {
			reg := newTestRegistry(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if _, _, ok := r.BasicAuth(); !ok {
						w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
						w.WriteHeader(http.StatusUnauthorized)
						return
					}
					w.WriteHeader(http.StatusForbidden)
					w.Write([]byte(strings.Repeat("x", pad) + password))
				})
			})
			c, log := openCache(t, reg.ref(), func(r *Remote) { r.Username, r.Password, r.PasswordFrom = user, password, "$P" })
			get(t, c, objects[0])
			c.Close(context.Background())
			if !strings.Contains(log.String(), "HTTP 403") {
				t.Fatalf("the registry's error is not shown:\n%s", log)
			}
			if strings.Contains(log.String(), password[:8]) {
				t.Errorf("log shows the start of the password:\n%s", log)
			}
		})
	}
}

// Whoever can write the local cache directory (a shared CI cache) but
// holds no key must not get a mapping of theirs signed into the registry's
// index: a local hit on their record would be published for every machine.
// The go command's own put, on the same directory, still is.
func TestLocalRecordIsNotLaunderedIntoTheIndex(t *testing.T) {
	reg := newTestRegistry(t, nil)
	o := objects[0]
	fill(t, reg.ref(), nil, o) // the registry holds fmt's output
	dir := t.TempDir()
	open := func() *Cache {
		c, err := Open(context.Background(), Options{Dir: dir, Remote: &Remote{Ref: reg.ref(), Key: testKey, Keychain: authn.NewMultiKeychain()}, Log: &logBuffer{}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := open()
	if _, err := c.local.putObject(o.output(), int64(len(o.body)), bytes.NewReader(o.body)); err != nil {
		t.Fatal(err)
	}
	victim := sum("compile crypto/tls")
	if err := c.local.putAction(victim, o.output(), int64(len(o.body))); err != nil { // written without the key
		t.Fatal(err)
	}
	honest := objects[1]
	if _, err := c.Put(context.Background(), honest.action, honest.output(), int64(len(honest.body)), bytes.NewReader(honest.body)); err != nil {
		t.Fatal(err)
	}
	c.Close(context.Background())
	// The next run on this machine: both are local hits.
	c = open()
	if _, ok := c.Get(context.Background(), victim); !ok {
		t.Fatal("the local record is not a local hit: the test proves nothing")
	}
	c.Get(context.Background(), honest.action)
	c.Close(context.Background())

	fresh, _ := openCache(t, reg.ref(), nil)
	if e, ok := fresh.Get(context.Background(), victim); ok {
		t.Errorf("a fresh machine gets output %s for an action nobody with the key mapped", e.OutputID)
	}
	if !get(t, fresh, honest) {
		t.Error("the go command's put on this machine was not shared")
	}
}
