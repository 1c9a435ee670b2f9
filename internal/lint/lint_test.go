package lint

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"dagger/go-image/internal/report"
)

// The analysistest packages are loaded once, GOPATH style (testdata/src
// holds them and the client-go stubs), and every analyzer runs over every
// package: a `// want` comment must be matched by some analyzer's finding
// on its line, and every finding must be wanted. analysistest itself
// type-checks all of net/http from source per call, which took ~7 s each.
var loaded struct {
	once     sync.Once
	findings []Finding
	err      error
}

var testPackages = []string{"clientlib", "clientperrequest", "watchcancel", "httpshutdown", "httpshutdownlib", "httpshutdownuse", "httpdrain", "httpdrainok", "httpdeadline", "stopfield", "httpdrainbelow", "exitclosed", "healthfamily", "healthprobes", "healthlone", "healthlonewebhook", "sigtermnotify", "sigtermnone", "sigtermprobes", "sigtermsignals", "sigtermapi", "sigtermlib", "sigtermctrl", "sigtermbare", "sigtermsvc", "sigtermsvcint", "healthmux", "healthrouters", "healthsharedapi", "healthshared", "suppress"}

// The example service itself (no findings) is linted by cmd/go-image's TestLintCLI
// on testdata/service, not on a copy that could drift from it.

func findings(t *testing.T) []Finding {
	t.Helper()
	loaded.once.Do(func() {
		dir, _ := filepath.Abs("testdata")
		pkgs, err := Load(context.Background(), dir, []string{"GOPATH=" + dir, "GO111MODULE=off", "GOWORK=off", "GOFLAGS="}, testPackages...)
		if err != nil {
			loaded.err = err
			return
		}
		loaded.findings, loaded.err = Analyze(pkgs, Analyzers()...)
	})
	if loaded.err != nil {
		t.Fatal(loaded.err)
	}
	return loaded.findings
}

var wantRE = regexp.MustCompile("// want (`[^`]*`(?:\\s+`[^`]*`)*)")

func TestAnalyzers(t *testing.T) {
	fs := findings(t)
	for _, pkg := range testPackages {
		t.Run(pkg, func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join("testdata", "src", pkg, "*.go"))
			if len(files) == 0 {
				t.Fatalf("no files for %s", pkg)
			}
			for _, file := range files {
				abs, _ := filepath.Abs(file)
				wants := map[int][]*regexp.Regexp{}
				src, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				for i, line := range strings.Split(string(src), "\n") {
					m := wantRE.FindStringSubmatch(line)
					if m == nil {
						continue
					}
					for _, q := range regexp.MustCompile("`[^`]*`").FindAllString(m[1], -1) {
						s, _ := strconv.Unquote(q)
						wants[i+1] = append(wants[i+1], regexp.MustCompile(s))
					}
				}
				for _, f := range fs {
					if f.Pos.Filename != abs {
						continue
					}
					msg := f.Message
					if f.Suppressed != "" {
						msg = "suppressed (" + f.Suppressed + "): " + msg
					}
					matched := false
					for i, re := range wants[f.Pos.Line] {
						if re.MatchString(msg) {
							wants[f.Pos.Line] = append(wants[f.Pos.Line][:i], wants[f.Pos.Line][i+1:]...)
							matched = true
							break
						}
					}
					if !matched {
						t.Errorf("%s:%d: unexpected %s finding: %s", file, f.Pos.Line, f.Analyzer, f.Message)
					}
				}
				for line, res := range wants {
					for _, re := range res {
						t.Errorf("%s:%d: no finding matching %q", file, line, re)
					}
				}
			}
		})
	}
}

// The testdata services, each its own module: the example passes, each lint
// variant fails exactly the analyzer meant for it.
func TestCheckServices(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "testdata")
	tests := []struct {
		dir  string
		fail []string
	}{
		{"service", nil},
		{"k8s/shutdown-no-timeout", []string{"httpshutdown"}},
		{"k8s/clientset-per-request", []string{"k8sclientperrequest"}},
		{"k8s/watch-without-cancel", []string{"k8swatchcancel"}},
		{"k8s/health-on-business-port", []string{"healthmux"}},
		{"k8s/no-sigterm", []string{"httpshutdown", "sigterm"}},
		{"k8s/readiness-always-200", nil},
		{"k8s/main-returns-before-drain", []string{"httpshutdown"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			t.Parallel()
			rs, err := Check(context.Background(), filepath.Join(root, tt.dir))
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != len(Analyzers()) {
				t.Fatalf("%d results, want one per analyzer", len(rs))
			}
			for _, r := range rs {
				want := report.Pass
				for _, f := range tt.fail {
					if r.ID == "lint/"+f {
						want = report.Fail
					}
				}
				if r.Status != want {
					t.Errorf("%s = %s, want %s: %s %v", r.ID, r.Status, want, r.Message, r.Details)
				}
				if r.Status == report.Fail {
					t.Logf("%s: %s", r.ID, strings.Join(r.Details, "\n  "))
				}
			}
		})
	}
}
