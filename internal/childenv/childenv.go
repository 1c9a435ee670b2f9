// Package childenv decides the environment of every program go-image
// starts: the go command, Trivy, runc. Each gets an allowlist of the
// variables it documents, never the whole environment, so that a registry
// token, a key password or a cloud credential exported for `go-image
// release` never reaches a child. The image under test gets none of the
// host's variables at all: its environment is the image's own (see
// internal/sandbox).
package childenv

import "strings"

// base is what every child may need: where programs are, who and where
// the user is, the locale and time zone, the proxy and the CA bundle.
var base = []string{
	"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TZ", "LANG", "LANGUAGE", "LC_*",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR",
}

// goNames are the variables of `go help environment` (build, module
// fetching, cgo, architecture and runtime settings) and what the go command
// hands to git and ssh to fetch private modules. Listed by name: a prefix
// such as GO* would also pass GOOGLE_APPLICATION_CREDENTIALS.
var goNames = []string{
	"GO111MODULE", "GOARCH", "GOAUTH", "GOBIN", "GOCACHE", "GOCACHEPROG", "GODEBUG", "GOENV", "GOEXPERIMENT",
	"GOFIPS140", "GOFLAGS", "GOINSECURE", "GOMODCACHE", "GONOPROXY", "GONOSUMDB", "GOOS", "GOPATH", "GOPRIVATE",
	"GOPROXY", "GOROOT", "GOSUMDB", "GOTMPDIR", "GOTOOLCHAIN", "GOVCS", "GOWORK", "GOTELEMETRY", "GOTELEMETRYDIR",
	"GO386", "GOAMD64", "GOARM", "GOARM64", "GOMIPS", "GOMIPS64", "GOPPC64", "GORISCV64", "GOWASM",
	"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GOTRACEBACK", "GOCOVERDIR",
	"GCCGO", "CC", "CXX", "AR", "PKG_CONFIG", "CGO_*",
	"GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS", "GIT_TERMINAL_PROMPT", "GIT_ALLOW_PROTOCOL",
	"GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_*", "GIT_CONFIG_VALUE_*",
	"SSH_AUTH_SOCK", "NETRC",
}

// Go is the environment of the go command (go list, go build, go vet, and
// golang.org/x/tools/go/packages, which runs go list), from environ
// (os.Environ()), followed by extra, whose values win.
func Go(environ []string, extra ...string) []string {
	return append(filter(environ, base, goNames), extra...)
}

// Tool is the environment of another tool (trivy, runc): the base
// allowlist only, followed by extra. A tool's own settings (TRIVY_*) are
// not passed: go-image fixes them on the command line.
func Tool(environ []string, extra ...string) []string {
	return append(filter(environ, base), extra...)
}

func filter(environ []string, lists ...[]string) []string {
	// Never nil: a nil Env makes os/exec pass the whole environment.
	out := []string{}
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		if allowed(name, lists) {
			out = append(out, kv)
		}
	}
	return out
}

func allowed(name string, lists [][]string) bool {
	for _, l := range lists {
		for _, a := range l {
			if p, ok := strings.CutSuffix(a, "*"); ok {
				if strings.HasPrefix(name, p) {
					return true
				}
			} else if name == a {
				return true
			}
		}
	}
	return false
}
