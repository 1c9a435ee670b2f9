package push

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Redacted replaces a credential in any text go-image prints.
const Redacted = "[REDACTED]"

// minSecret is the shortest secret form replaced: replacing "x" would garble
// every word containing an x and reveal the secret by the gaps.
const minSecret = 4

// maxErrorBody bounds how much of a registry's error response is read and
// quoted. Registries answer errors with a small JSON document; a hostile
// one could send gigabytes, which go-containerregistry would read whole.
const maxErrorBody = 16 << 10

// secretForms are the ways a credential can come back in a registry's
// answer or an error: the password or token itself; the Basic
// Authorization value base64(user:password) in the standard and URL
// alphabets, with and without padding; base64 of the password alone; the
// URL-encoded forms a token request's form body or query carries; and the
// JSON-escaped forms a JSON error body quotes.
func secretForms(user, pass string) []string {
	if pass == "" {
		return nil
	}
	var out []string
	add := func(s string) {
		if len(s) >= minSecret {
			out = append(out, s, strings.ReplaceAll(s, "/", `\/`), jsonEscaped(s))
		}
	}
	add(pass)
	add(url.QueryEscape(pass))
	add(url.PathEscape(pass))
	for _, plain := range []string{user + ":" + pass, pass} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			add(enc.EncodeToString([]byte(plain)))
		}
	}
	return out
}

func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// redactor holds every secret form seen so far: the explicit credentials'
// and, added as requests go out, whatever Authorization header the
// transport chain sent (a Basic value from a credential helper, a Bearer
// token from the registry's token server). It is shared by every request
// of one registry operation.
type redactor struct {
	mu      sync.Mutex
	secrets map[string]bool
}

func newRedactor(c Credentials) *redactor {
	r := &redactor{secrets: map[string]bool{}}
	r.add(secretForms(c.Username, c.Password)...)
	return r
}

func (r *redactor) add(forms ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range forms {
		if len(f) >= minSecret {
			r.secrets[f] = true
		}
	}
}

// addAuthorization records the credential of an Authorization header:
// "Basic base64(user:pass)" (and the user:pass it decodes to), "Bearer
// token", or any other scheme's parameter.
func (r *redactor) addAuthorization(h string) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		r.add(secretForms("", h)...)
		return
	}
	cred = strings.TrimSpace(cred)
	r.add(secretForms("", cred)...)
	if strings.EqualFold(scheme, "basic") {
		if b, err := base64.StdEncoding.DecodeString(cred); err == nil {
			user, pass, _ := strings.Cut(string(b), ":")
			r.add(secretForms(user, pass)...)
		}
	}
}

// apply replaces every known secret form in s, longest first, so that a
// form containing another (base64 of user:pass, then pass) goes whole.
func (r *redactor) apply(s string) string {
	r.mu.Lock()
	forms := make([]string, 0, len(r.secrets))
	for f := range r.secrets {
		forms = append(forms, f)
	}
	r.mu.Unlock()
	sort.Slice(forms, func(i, j int) bool {
		if len(forms[i]) != len(forms[j]) {
			return len(forms[i]) > len(forms[j])
		}
		return forms[i] < forms[j]
	})
	for _, f := range forms {
		s = strings.ReplaceAll(s, f, Redacted)
	}
	return s
}

// redactingTransport sits below go-containerregistry's auth and retry
// transports, where every request carries its final Authorization header.
// It records that header's credential, and rewrites every error response's
// body — the text go-containerregistry quotes in its errors — to a bounded
// excerpt with every credential seen so far redacted. A registry, a proxy
// or a token server that echoes the Authorization header therefore never
// gets a credential printed, in any of its encodings.
type redactingTransport struct {
	inner http.RoundTripper
	r     *redactor
}

func (t *redactingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if h := req.Header.Get("Authorization"); h != "" {
		t.r.addAuthorization(h)
	}
	resp, err := t.inner.RoundTrip(req)
	if err != nil {
		return resp, redactedError{msg: t.r.apply(err.Error()), err: err}
	}
	if resp.StatusCode < 300 || resp.Body == nil {
		return resp, nil
	}
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	resp.Body.Close()
	if len(b) > maxErrorBody {
		b = append(b[:maxErrorBody], "… (truncated)"...)
	}
	if rerr != nil {
		b = append(b, " (reading the rest failed)"...)
	}
	b = []byte(t.r.apply(string(b)))
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// redactedError is an error whose message had credentials removed; it
// keeps the original for errors.Is/As (e.g. *transport.Error, timeouts).
// Callers that print must use Error(), which is redacted.
type redactedError struct {
	msg string
	err error
}

func (r redactedError) Error() string { return r.msg }
func (r redactedError) Unwrap() error { return r.err }
