package assemble

import (
	"fmt"
	"path"
	"strings"

	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/safetext"
)

// trustEnv are the variables the Go runtime and standard library read to
// decide what the service trusts or where its requests go, with what each
// changes. The final image inherits the base's environment, and no gate
// reads it: a base that set SSL_CERT_FILE to a bundle of its own made the
// service trust its author's CA while harden/ca-bundle passed the standard
// bundle. An empty value is Go's "unset".
var trustEnv = map[string]string{
	"SSL_CERT_FILE": "the CA certificates crypto/x509 trusts",
	"SSL_CERT_DIR":  "the CA certificates crypto/x509 trusts",
	"HTTP_PROXY":    "where net/http sends the service's outbound requests",
	"HTTPS_PROXY":   "where net/http sends the service's outbound requests",
	"ALL_PROXY":     "where golang.org/x/net/proxy sends the service's connections",
	"GODEBUG":       "the Go runtime's settings, insecure TLS and X.509 behaviours included",
}

// judged are the values of trustEnv that a gate does judge: SSL_CERT_FILE
// naming the bundle harden/ca-bundle reads. Distroless and Chainguard's
// static bases set exactly that; refusing them would refuse the most
// common hardened bases for naming the file the gate checks.
var judged = map[string]func(string) bool{
	"SSL_CERT_FILE": func(v string) bool { return path.Clean(v) == recipe.CABundlePath },
}

// BaseEnvError is a base image whose environment sets one of the
// variables that change what the service trusts.
type BaseEnvError struct {
	Base, Name, Value, Changes string
}

func (e *BaseEnvError) Error() string {
	return fmt.Sprintf("base image %s sets %s=%q in its environment, which the service would inherit: it changes %s, and no gate judges it; "+
		"use a base without it (rebuild it with ENV %s= , empty, which Go reads as unset), or set it in the Deployment, where a reviewer sees it",
		safetext.Line(e.Base), safetext.Line(e.Name), safetext.Line(truncate(e.Value, 200)), e.Changes, safetext.Line(e.Name))
}

// checkBaseEnv refuses env (the base's) when it sets one of trustEnv, in
// either case, to a non-empty value other than one a gate judges. Every occurrence counts: containerd
// keeps the last of a name, Go's os.Getenv reads the first of the
// duplicates a runtime passes on.
func checkBaseEnv(base string, env []string) error {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		name := strings.ToUpper(k)
		if ok := judged[name]; ok != nil && ok(v) {
			continue
		}
		if changes, ok := trustEnv[name]; ok && v != "" {
			return &BaseEnvError{Base: base, Name: k, Value: v, Changes: changes}
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
