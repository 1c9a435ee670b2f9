package childenv

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// secrets are variables a CI job running `go-image release` typically
// holds; none may reach any child.
var secrets = []string{
	"REGISTRY_TOKEN=s1", "COSIGN_PASSWORD=s2", "COSIGN_KEY=s3", "GITHUB_TOKEN=s4", "ACTIONS_RUNTIME_TOKEN=s5",
	"ACTIONS_ID_TOKEN_REQUEST_TOKEN=s6", "AWS_SECRET_ACCESS_KEY=s7", "AWS_SESSION_TOKEN=s8",
	"GOOGLE_APPLICATION_CREDENTIALS=/k.json", "GOOGLE_OAUTH_ACCESS_TOKEN=s9", "DAGGER_SESSION_TOKEN=s10",
	"TRIVY_PASSWORD=s11", "TRIVY_SEVERITY=LOW", "DOCKER_AUTH_CONFIG=s12", "NPM_TOKEN=s13", "CI_JOB_TOKEN=s14",
	"GOIMAGE_INVOCATION_ID=x", "SOME_GO_TOKEN=s15", "GIT_TOKEN=s16", "GIT_PASSWORD=s17",
}

func TestFilter(t *testing.T) {
	needs := []string{"PATH=/usr/bin", "HOME=/home/ci", "TMPDIR=/tmp/x", "HTTPS_PROXY=http://proxy:3128",
		"no_proxy=localhost", "SSL_CERT_FILE=/etc/ca.pem", "LC_ALL=C.UTF-8", "TZ=UTC"}
	goNeeds := []string{"GOPATH=/go", "GOMODCACHE=/go/pkg/mod", "GOPROXY=https://proxy.golang.org", "GOFLAGS=-mod=mod",
		"GOPRIVATE=example.com", "CGO_CFLAGS=-O2", "GIT_SSH_COMMAND=ssh -i k", "GIT_CONFIG_KEY_0=url.x.insteadOf",
		"SSH_AUTH_SOCK=/run/agent", "GOTOOLCHAIN=local", "GOAMD64=v3"}
	environ := slices.Concat(secrets, needs, goNeeds, []string{"MALFORMED", "=nameless"})
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"go command", Go(environ), slices.Concat(needs, goNeeds)},
		{"tool", Tool(environ), needs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kv := range tt.got {
				if !slices.Contains(tt.want, kv) {
					t.Errorf("passed %q, which is not on the allowlist", kv)
				}
			}
			for _, kv := range tt.want {
				if !slices.Contains(tt.got, kv) {
					t.Errorf("dropped %q, which the child needs", kv)
				}
			}
		})
	}
}

func TestExtraWinsAndNeverNil(t *testing.T) {
	env := Go([]string{"GOFLAGS=-mod=mod", "REGISTRY_TOKEN=x"}, "GOFLAGS=-mod=readonly")
	if want := []string{"GOFLAGS=-mod=mod", "GOFLAGS=-mod=readonly"}; !slices.Equal(env, want) {
		t.Errorf("Go = %q, want %q (os/exec keeps the last value of a name)", env, want)
	}
	// A nil Env makes os/exec pass the parent's whole environment.
	if env := Tool(nil); env == nil {
		t.Error("Tool(nil) = nil: os/exec would pass the whole environment")
	}
}

// TestExecGetsOnlyTheAllowlist runs a real child with a filtered
// environment and reads what it got: the secrets of this process are not
// in it.
func TestExecGetsOnlyTheAllowlist(t *testing.T) {
	if _, err := exec.LookPath("env"); err != nil {
		t.Skip("SKIPPED: no env command")
	}
	for _, kv := range secrets {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("GOPROXY", "off")
	cmd := exec.Command("env")
	cmd.Env = Go(os.Environ())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, kv := range secrets {
		if slices.Contains(got, kv) {
			t.Errorf("the child got %q", kv)
		}
	}
	if !slices.Contains(got, "GOPROXY=off") {
		t.Errorf("the child did not get GOPROXY: %q", got)
	}
}

func ExampleGo() {
	env := Go([]string{"PATH=/usr/bin", "GOPROXY=direct", "REGISTRY_TOKEN=s3cr3t", "GOOGLE_APPLICATION_CREDENTIALS=/key.json"}, "CGO_ENABLED=0")
	fmt.Println(env)
	// Output: [PATH=/usr/bin GOPROXY=direct CGO_ENABLED=0]
}
