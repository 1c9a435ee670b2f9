package lint

import (
	"context"
	"errors"
	"go/token"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"dagger/go-image/internal/report"
)

// TestGate: the gate lints its directory whatever image it is given, and a
// directory it cannot load is an error naming it (gates.Run turns that into
// a failure).
func TestGate(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "testdata")
	g := Gate{Dir: filepath.Join(root, "k8s", "shutdown-no-timeout")}
	if g.Name() != "lint" {
		t.Errorf("Name = %q, want lint", g.Name())
	}
	rs, err := g.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, r := range rs {
		if r.Status == report.Fail {
			failed = append(failed, r.ID)
		}
	}
	if strings.Join(failed, " ") != "lint/httpshutdown" {
		t.Errorf("failed = %v, want lint/httpshutdown", failed)
	}
	missing := filepath.Join(t.TempDir(), "nowhere")
	if _, err := (Gate{Dir: missing}).Check(context.Background(), nil); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing dir: err = %v, want one naming %s", err, missing)
	}
}

// recorded is a Runner that replays findings and records its options.
type recorded struct {
	f    Findings
	err  error
	opts Options
}

func (r *recorded) Lint(_ context.Context, o Options) (Findings, error) {
	r.opts = o
	return r.f, r.err
}

// TestGateRunner: a gate with a Runner (the Dagger module's go vet) judges
// the runner's findings with the gate's policy, exactly as the in-process
// run's, and passes it the gate's options.
func TestGateRunner(t *testing.T) {
	pos := func(line int) token.Position { return token.Position{Filename: "/src/main.go", Line: line, Column: 2} }
	r := &recorded{f: Findings{Dir: "/src", Packages: -1, List: []Finding{
		{Analyzer: HTTPShutdown.Name, Pos: pos(12), Message: "Shutdown(context.Background()) has no deadline"},
		{Analyzer: WatchCancel.Name, Pos: pos(30), Message: "watch never cancelled"},
	}}}
	opts := Options{Policy: Policy{WatchCancel.Name: Warn}, Operational: "/metrics"}
	rs, err := Gate{Runner: r, Options: opts}.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.opts.Operational != "/metrics" || r.opts.Policy.Severity(WatchCancel.Name) != Warn {
		t.Errorf("runner got options %+v, want the gate's", r.opts)
	}
	status := map[string]report.Status{}
	for _, res := range rs {
		status[res.ID] = res.Status
		if res.ID == "lint/"+HTTPShutdown.Name && (len(res.Details) != 1 || !strings.HasPrefix(res.Details[0], "main.go:12:2: ")) {
			t.Errorf("%s details = %q, want the position relative to the runner's Dir", res.ID, res.Details)
		}
	}
	if status["lint/"+HTTPShutdown.Name] != report.Fail || status["lint/"+WatchCancel.Name] != report.Warn || len(rs) != len(Analyzers()) {
		t.Errorf("results = %v, want httpshutdown failing, the warned watch analyzer warning, one result per analyzer", status)
	}
	want := Findings{Dir: "/src", Packages: -1, List: r.f.List}.Results(opts.Policy)
	if len(want) != len(rs) {
		t.Errorf("the gate's results differ from Findings.Results")
	}
	r.err = errors.New("go vet exited 1")
	if _, err := (Gate{Runner: r}).Check(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "go vet exited 1") {
		t.Errorf("a failing runner: err = %v, want its error", err)
	}
}
