package assemble_test

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"dagger/go-image/internal/assemble"
	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/imagetest"
)

// TestBaseEnvironment: the final image inherits the base's environment,
// and the service with it, while no gate reads it. A base that sets
// where Go finds its CA certificates, a proxy for the service's outbound
// requests, or GODEBUG (which turns insecure TLS and X.509 behaviours back
// on) changes what the service trusts behind harden/ca-bundle's back:
// refused, naming the variable and the fix. The base's other variables
// (PATH, LANG, an empty SSL_CERT_FILE that unsets it) pass, as before.
func TestBaseEnvironment(t *testing.T) {
	const path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, tc := range []struct {
		name string
		env  []string
		says string // "" when the base is accepted
	}{
		{"alpine's PATH", []string{path}, ""},
		{"a locale and an empty SSL_CERT_FILE", []string{path, "LANG=C.UTF-8", "SSL_CERT_FILE=", "TZ=UTC"}, ""},
		{"the base's own CA bundle", []string{path, "SSL_CERT_FILE=/usr/share/evil-ca.pem"}, "SSL_CERT_FILE"},
		{"distroless: the bundle harden/ca-bundle reads", []string{path, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}, ""},
		{"that bundle's path, spelled otherwise", []string{"SSL_CERT_FILE=/etc/ssl/certs/../certs/ca-certificates.crt"}, ""},
		{"a neighbour of that bundle", []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt.evil"}, "SSL_CERT_FILE"},
		{"the bundle as a directory", []string{"SSL_CERT_DIR=/etc/ssl/certs"}, "SSL_CERT_DIR"},
		{"a CA directory", []string{"SSL_CERT_DIR=/usr/share"}, "SSL_CERT_DIR"},
		{"a proxy for HTTPS", []string{"HTTPS_PROXY=http://proxy.attacker.example:3128"}, "HTTPS_PROXY"},
		{"a proxy, lower case", []string{"http_proxy=http://proxy.attacker.example:3128"}, "http_proxy"},
		{"a SOCKS proxy", []string{"ALL_PROXY=socks5://proxy.attacker.example:1080"}, "ALL_PROXY"},
		{"insecure TLS back on", []string{"GODEBUG=tlsrsakex=1,x509negativeserial=1"}, "GODEBUG"},
		{"the last of two (containerd's reading)", []string{"SSL_CERT_FILE=", "SSL_CERT_FILE=/usr/share/evil-ca.pem"}, "SSL_CERT_FILE"},
		{"the first of two (Go's reading)", []string{"SSL_CERT_FILE=/usr/share/evil-ca.pem", "SSL_CERT_FILE="}, "SSL_CERT_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := imagetest.Options()
			o.Platform = "linux/" + runtime.GOARCH
			base := assemble.Base{Image: hostile.BaseEnv(t, runtime.GOARCH, tc.env...), Name: "registry.example/evil/alpine:3.22"}
			img, err := assemble.Image(base, o, []byte("binary"))
			if tc.says == "" {
				if err != nil {
					t.Fatalf("a base with %q was refused: %v", tc.env, err)
				}
				cf, err := img.ConfigFile()
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(cf.Config.Env, tc.env) {
					t.Errorf("the image's environment is %q, want the base's %q", cf.Config.Env, tc.env)
				}
				return
			}
			if err == nil {
				t.Fatalf("a base setting %s was built on: the service would run with it, unjudged", tc.says)
			}
			var be *assemble.BaseEnvError
			if !errors.As(err, &be) {
				t.Errorf("error %v: want an *assemble.BaseEnvError", err)
			}
			for _, want := range []string{tc.says, "registry.example/evil/alpine:3.22", "ENV " + tc.says + "="} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q (the variable, the base, the fix)", err, want)
				}
			}
		})
	}
}

// TestBaseLabels: the labels that describe the image (source, revision,
// version, title…) are the recipe's, never the base's: a base would
// otherwise name its author's repository and revision in every image the
// recipe does not label. The base's own base.* labels and foreign labels
// stay.
func TestBaseLabels(t *testing.T) {
	base := hostile.BaseEnv(t, runtime.GOARCH)
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.source":    "https://attacker.example/repo",
		"org.opencontainers.image.revision":  "deadbeef",
		"org.opencontainers.image.base.name": "docker.io/library/alpine:3.22",
		"com.example.team":                   "platform",
	}
	if base, err = mutate.ConfigFile(base, cf); err != nil {
		t.Fatal(err)
	}
	o := imagetest.Options()
	o.Platform = "linux/" + runtime.GOARCH
	img, err := assemble.Image(assemble.Base{Image: base, Name: "registry.example/base:1"}, o, []byte("binary"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	l := got.Config.Labels
	if l["org.opencontainers.image.source"] == "https://attacker.example/repo" || l["org.opencontainers.image.revision"] == "deadbeef" {
		t.Errorf("the base's source/revision labels reached the image: %q", l)
	}
	if l["org.opencontainers.image.base.name"] != "docker.io/library/alpine:3.22" || l["com.example.team"] != "platform" {
		t.Errorf("the base's base.* and foreign labels were dropped: %q", l)
	}
}
