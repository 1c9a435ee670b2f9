// Package redact blanks credentials out of the text go-image prints: a
// registry's error body (which a hostile registry fills with the
// Authorization it was sent), a transport's error, a warning. It knows the
// forms a secret takes on its way back: escaped, URL-encoded, base64.
package redact

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Redacted replaces a credential in any text go-image prints.
const Redacted = "[REDACTED]"

// minSecret is the shortest secret form replaced: replacing "x" would garble
// every word containing an x and reveal the secret by the gaps.
const minSecret = 4

// forms are the ways a credential can come back in a registry's answer or
// an error: the password or token itself; the Basic Authorization value
// base64(user:password) in the standard and URL alphabets, with and without
// padding; base64 of the password alone; the URL-encoded forms a token
// request's form body or query carries; and the JSON- and Go-escaped forms
// a JSON error body or a %q quotes.
func forms(user, pass string) []string {
	if pass == "" {
		return nil
	}
	var out []string
	add := func(s string) {
		if len(s) >= minSecret {
			out = append(out, s, strings.ReplaceAll(s, "/", `\/`), jsonEscaped(s), goEscaped(s))
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

func goEscaped(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// Redactor holds every secret form seen so far: the explicit credentials'
// and, added as requests go out, whatever Authorization header was sent (a
// Basic value from a credential helper, a Bearer token from the registry's
// token server). The zero value is ready; it is safe for concurrent use.
type Redactor struct {
	mu      sync.Mutex
	secrets map[string]bool
}

// Credentials adds every form of user and pass.
func (r *Redactor) Credentials(user, pass string) {
	r.add(forms(user, pass)...)
}

// Secrets adds every form of each secret (a key, a token).
func (r *Redactor) Secrets(secrets ...string) {
	for _, s := range secrets {
		r.add(forms("", s)...)
	}
}

func (r *Redactor) add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range secrets {
		if len(f) < minSecret {
			continue
		}
		if r.secrets == nil {
			r.secrets = map[string]bool{}
		}
		r.secrets[f] = true
	}
}

// Authorization records the credential of an Authorization header:
// "Basic base64(user:pass)" (and the user:pass it decodes to), "Bearer
// token", or any other scheme's parameter.
func (r *Redactor) Authorization(h string) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		r.Secrets(h)
		return
	}
	cred = strings.TrimSpace(cred)
	r.Secrets(cred)
	if strings.EqualFold(scheme, "basic") {
		if b, err := base64.StdEncoding.DecodeString(cred); err == nil {
			user, pass, _ := strings.Cut(string(b), ":")
			r.Credentials(user, pass)
		}
	}
}

// Apply replaces every known secret form in s, longest first, so that a
// form containing another (base64 of user:pass, then pass) goes whole.
func (r *Redactor) Apply(s string) string {
	r.mu.Lock()
	known := make([]string, 0, len(r.secrets))
	for f := range r.secrets {
		known = append(known, f)
	}
	r.mu.Unlock()
	sort.Slice(known, func(i, j int) bool {
		if len(known[i]) != len(known[j]) {
			return len(known[i]) > len(known[j])
		}
		return known[i] < known[j]
	})
	for _, f := range known {
		s = strings.ReplaceAll(s, f, Redacted)
	}
	return s
}
