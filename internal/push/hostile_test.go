package push_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"

	"dagger/go-image/internal/push"
	"dagger/go-image/internal/sign"
	"dagger/go-image/internal/verify"
)

// The credentials of the hostile-registry tests. The password's base64
// forms differ between the standard and URL alphabets and with or without
// padding, and its URL-encoded form differs from it.
const (
	user     = "alice"
	password = "s3cr3t/Pa55+w?~rd&x=üü>?"
	token    = "registry-issued-bearer-token-0123456789"
)

// forms are every encoding of the credentials that must never be printed.
func forms(t *testing.T) map[string]string {
	up := user + ":" + password
	f := map[string]string{
		"raw password":         password,
		"query-escaped":        url.QueryEscape(password),
		"path-escaped":         url.PathEscape(password),
		"bearer token":         token,
		"base64 std":           base64.StdEncoding.EncodeToString([]byte(up)),
		"base64 url":           base64.URLEncoding.EncodeToString([]byte(up)),
		"base64 std unpadded":  base64.RawStdEncoding.EncodeToString([]byte(up)),
		"base64 url unpadded":  base64.RawURLEncoding.EncodeToString([]byte(up)),
		"base64 of the token":  base64.StdEncoding.EncodeToString([]byte(token)),
		"JSON-escaped base64 ": strings.ReplaceAll(base64.StdEncoding.EncodeToString([]byte(up)), "/", `\/`),
	}
	if f["base64 std"] == f["base64 url"] || f["base64 std"] == f["base64 std unpadded"] {
		t.Fatal("pick a password whose base64 forms differ")
	}
	return f
}

// hostile is a registry (go-containerregistry's, in process) behind a
// front that echoes every credential it is sent, in every encoding, in its
// error bodies: as JSON error details, as raw text, URL-encoded. mode says
// when it answers with an error:
//
//	basic:  401 to every request, echoing the Basic header
//	bearer: a token flow; the token is then refused with 403, echoing it
//	        and the Basic credentials the token server saw
//	denied: the credentials work, but writes and signature reads get 403
type hostile struct {
	t    *testing.T
	mode string
	reg  http.Handler
	host string

	mu       sync.Mutex
	sawBasic string // the Basic header the token server was sent
}

func newHostile(t *testing.T, mode string) *hostile {
	h := &hostile{t: t, mode: mode, reg: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	h.host = strings.TrimPrefix(srv.URL, "http://")
	return h
}

func (h *hostile) echo(w http.ResponseWriter, status int, auth string) {
	h.mu.Lock()
	basic := h.sawBasic
	h.mu.Unlock()
	decoded := ""
	if c, ok := strings.CutPrefix(auth, "Basic "); ok {
		b, _ := base64.StdEncoding.DecodeString(c)
		decoded = string(b)
	}
	if c, ok := strings.CutPrefix(basic, "Basic "); ok {
		b, _ := base64.StdEncoding.DecodeString(c)
		decoded += " " + string(b)
	}
	_, pass, _ := strings.Cut(decoded, ":")
	msg := fmt.Sprintf("you sent %s (token server saw %s; decoded %s; url %s; b64 %s)", auth, basic, decoded,
		url.QueryEscape(pass), base64.RawURLEncoding.EncodeToString([]byte(decoded)))
	code := "UNAUTHORIZED"
	if status == http.StatusForbidden {
		code = "DENIED"
	}
	body, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"code": code, "message": msg, "detail": map[string]string{"authorization": auth}}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func (h *hostile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if r.Method == http.MethodHead && h.mode != "denied" {
		// A HEAD answer has no body to echo into: let the client get on
		// to the requests that have one.
		h.reg.ServeHTTP(w, r)
		return
	}
	switch h.mode {
	case "basic":
		w.Header().Set("WWW-Authenticate", `Basic realm="hostile"`)
		h.echo(w, http.StatusUnauthorized, auth)
		return
	case "bearer":
		if r.URL.Path == "/token" {
			h.mu.Lock()
			h.sawBasic = auth
			h.mu.Unlock()
			if auth == "" {
				h.echo(w, http.StatusUnauthorized, auth)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"token": token, "access_token": token})
			return
		}
		if !strings.HasPrefix(auth, "Bearer ") {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="hostile",scope="repository:acme/api:pull,push"`, h.host))
			h.echo(w, http.StatusUnauthorized, auth)
			return
		}
		h.echo(w, http.StatusForbidden, auth)
		return
	case "denied":
		if r.Method != http.MethodGet && r.Method != http.MethodHead || strings.Contains(r.URL.Path, ".sig") || strings.Contains(r.URL.Path, ".att") {
			h.echo(w, http.StatusForbidden, auth)
			return
		}
	}
	h.reg.ServeHTTP(w, r)
}

// keychain stands for a credential helper: its password is not in
// push.Options, so only what the transport sees can redact it.
type keychain struct{}

func (keychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: user, Password: password}), nil
}

func options(explicit bool) push.Options {
	o := push.Options{Backoff: &remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 1}}
	if explicit {
		o.Credentials = push.Credentials{Username: user, Password: password, PasswordFrom: "$TOKEN"}
	} else {
		o.Keychain = keychain{}
	}
	return o
}

func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for name, f := range forms(t) {
		if strings.Contains(out, f) {
			t.Errorf("%s prints the %s (%q):\n%s", what, name, f, out)
		}
	}
}

// TestHostileRegistryEchoesCredentials: push, verify and the signature
// store's reads against a registry that echoes the Authorization header
// print no credential in any encoding, for explicit credentials and for a
// credential helper's, with Basic and Bearer auth.
func TestHostileRegistryEchoesCredentials(t *testing.T) {
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signature.LoadECDSAVerifier(&ec.PublicKey, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func(h *hostile, o push.Options) error{
		"push": func(h *hostile, o push.Options) error {
			_, err := push.Push(context.Background(), img, []string{h.host + "/acme/api:v1"}, o)
			return err
		},
		"verify": func(h *hostile, o push.Options) error {
			if h.mode == "denied" {
				// The image must exist for verify to reach its signatures:
				// write it to the registry behind the hostile front.
				back := httptest.NewServer(h.reg)
				defer back.Close()
				if _, err := push.Push(context.Background(), img, []string{strings.TrimPrefix(back.URL, "http://") + "/acme/api:v1"}, push.Options{}); err != nil {
					t.Fatal(err)
				}
			}
			_, err := verify.Image(context.Background(), h.host+"/acme/api:v1", v, verify.Options{Registry: o})
			return err
		},
		"signature read": func(h *hostile, o push.Options) error {
			d, _ := img.Digest()
			ref, err := name.NewDigest(h.host + "/acme/api@" + d.String())
			if err != nil {
				t.Fatal(err)
			}
			tag, err := sign.SignatureTag(ref)
			if err != nil {
				t.Fatal(err)
			}
			_, err = sign.ReadLayers(context.Background(), tag, o)
			return err
		},
	}
	for _, mode := range []string{"basic", "bearer", "denied"} {
		for op, run := range ops {
			for _, explicit := range []bool{true, false} {
				who := map[bool]string{true: "explicit", false: "credential helper"}[explicit]
				t.Run(mode+"/"+op+"/"+who, func(t *testing.T) {
					h := newHostile(t, mode)
					var logs bytes.Buffer
					o := options(explicit)
					o.Log = &logs
					err := run(h, o)
					if err == nil {
						t.Fatalf("%s against a registry that refuses everything succeeded", op)
					}
					assertNoSecret(t, op+"'s error", err.Error())
					assertNoSecret(t, op+"'s log", logs.String())
					if mode != "denied" && !strings.Contains(err.Error(), push.Redacted) {
						t.Errorf("the echo was not redacted but dropped, or never reached the error: %v", err)
					}
				})
			}
		}
	}
}

// TestErrorBodyBounded: a registry that answers an error with a huge body
// gets a bounded excerpt quoted, not the whole body read into memory.
func TestErrorBodyBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		chunk := bytes.Repeat([]byte("A"), 1<<20)
		for i := 0; i < 64; i++ { // 64 MiB, streamed
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, _ := random.Image(16, 1)
	_, err := push.Push(context.Background(), img, []string{host + "/acme/api:v1"}, options(true))
	if err == nil {
		t.Fatal("push succeeded")
	}
	if n := len(err.Error()); n > 64<<10 {
		t.Errorf("error is %d bytes: the registry's body was not bounded", n)
	}
	if !strings.Contains(err.Error(), "(truncated)") {
		t.Errorf("error does not say the body was truncated: %.300s", err)
	}
}
