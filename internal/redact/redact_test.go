package redact_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"dagger/go-image/internal/redact"
)

// TestRedactor: every form in which a hostile registry, or an error of
// go-image's own, can quote a credential comes out blanked.
func TestRedactor(t *testing.T) {
	const user, pass = "ci-bot", `s3cr"et/<pa+ss>é`
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	for _, tc := range []struct {
		name, text string
		learn      func(r *redact.Redactor)
	}{
		{"plain", "denied: " + pass, func(r *redact.Redactor) { r.Credentials(user, pass) }},
		{"go-quoted (%q)", fmt.Sprintf("media type %q", pass), func(r *redact.Redactor) { r.Credentials(user, pass) }},
		{"JSON-escaped", `{"errors":[{"message":"` + strings.NewReplacer(`"`, `\"`, "<", `\u003c`, ">", `\u003e`).Replace(pass) + `"}]}`, func(r *redact.Redactor) { r.Credentials(user, pass) }},
		{"URL-encoded", "?password=" + url.QueryEscape(pass), func(r *redact.Redactor) { r.Credentials(user, pass) }},
		{"Basic value", "Authorization: Basic " + basic, func(r *redact.Redactor) { r.Credentials(user, pass) }},
		{"password from a Basic header sent", "echo " + pass, func(r *redact.Redactor) { r.Authorization("Basic " + basic) }},
		{"bearer token sent", "token eyJhbGciOi.x.y", func(r *redact.Redactor) { r.Authorization("Bearer eyJhbGciOi.x.y") }},
		{"a key", "key 0123456789abcdef", func(r *redact.Redactor) { r.Secrets("0123456789abcdef") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r redact.Redactor
			tc.learn(&r)
			got := r.Apply(tc.text)
			if !strings.Contains(got, redact.Redacted) {
				t.Fatalf("nothing redacted in %q", got)
			}
			for _, leak := range []string{"s3cr", "eyJhbGciOi", "0123456789abcdef", basic[:12]} {
				if strings.Contains(got, leak) {
					t.Errorf("%q still holds %q", got, leak)
				}
			}
		})
	}
}

// TestRedactorShortSecrets: a secret shorter than 4 bytes (minSecret) is left alone
// (blanking "ab" would garble every word with an "ab" and show the secret
// by the gaps), and the zero Redactor redacts nothing.
func TestRedactorShortSecrets(t *testing.T) {
	var r redact.Redactor
	if got := r.Apply("about the abbey"); got != "about the abbey" {
		t.Errorf("the zero Redactor changed the text: %q", got)
	}
	r.Secrets("ab")
	if got := r.Apply("about the abbey"); got != "about the abbey" {
		t.Errorf("a 2-byte secret was blanked: %q", got)
	}
}

// A secret that contains another goes whole: longest first.
func ExampleRedactor_Apply() {
	var r redact.Redactor
	r.Credentials("user", "hunter22")
	fmt.Println(r.Apply("Basic dXNlcjpodW50ZXIyMg== and hunter22"))
	// Output: Basic [REDACTED] and [REDACTED]
}
