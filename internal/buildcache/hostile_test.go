package buildcache

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

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
