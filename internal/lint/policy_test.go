package lint

import (
	"encoding/json"
	"go/token"
	"net/url"
	"strings"
	"testing"

	"dagger/go-image/internal/report"
	"dagger/go-image/internal/safetext"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]Severity // analyzers not named must be deny
		wantErr string
	}{
		{in: "", want: nil},
		{in: "httpshutdown=deny,k8swatchcancel=warn", want: map[string]Severity{"httpshutdown": Deny, "k8swatchcancel": Warn}},
		{in: " healthmux = warn , ", want: map[string]Severity{"healthmux": Warn}},
		{in: "lintignore=warn", want: map[string]Severity{"lintignore": Warn}},
		{in: "httpshutdown", wantErr: "want analyzer=deny|warn"},
		{in: "httpshutdwn=warn", wantErr: `no analyzer "httpshutdwn"`},
		{in: "healthmux=off", wantErr: "use deny (block) or warn"},
		{in: "healthmux=warn,healthmux=deny", wantErr: "given twice"},
	}
	for _, tt := range tests {
		p, err := ParsePolicy(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePolicy(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePolicy(%q): %v", tt.in, err)
			continue
		}
		for _, a := range Analyzers() {
			want, ok := tt.want[a.Name]
			if !ok {
				want = Deny
			}
			if got := p.Severity(a.Name); got != want {
				t.Errorf("ParsePolicy(%q).Severity(%s) = %s, want %s", tt.in, a.Name, got, want)
			}
		}
		if back, err := ParsePolicy(p.String()); err != nil || back.String() != p.String() {
			t.Errorf("ParsePolicy(%q).String() = %q does not parse back: %v", tt.in, p.String(), err)
		}
	}
}

// findingsFixture: one open and one suppressed httpshutdown finding, one
// open k8swatchcancel finding.
func findingsFixture() []Finding {
	at := func(line int) token.Position { return token.Position{Filename: "/src/main.go", Line: line, Column: 2} }
	return []Finding{
		{Analyzer: "httpshutdown", Pos: at(10), Message: "Shutdown(context.Background()) has no deadline"},
		{Analyzer: "httpshutdown", Pos: at(20), Message: "http.ListenAndServe gives no handle", Suppressed: "pprof on localhost"},
		{Analyzer: "k8swatchcancel", Pos: at(30), Message: "Watch with context.TODO() can never be cancelled"},
	}
}

func TestPolicyResults(t *testing.T) {
	tests := []struct {
		policy string
		want   map[string]report.Status
	}{
		{"", map[string]report.Status{"httpshutdown": report.Fail, "k8swatchcancel": report.Fail, "healthmux": report.Pass}},
		{"k8swatchcancel=warn", map[string]report.Status{"httpshutdown": report.Fail, "k8swatchcancel": report.Warn, "healthmux": report.Pass}},
		{"k8swatchcancel=warn,httpshutdown=warn", map[string]report.Status{"httpshutdown": report.Warn, "k8swatchcancel": report.Warn, "healthmux": report.Pass}},
	}
	for _, tt := range tests {
		p, err := ParsePolicy(tt.policy)
		if err != nil {
			t.Fatal(err)
		}
		rs := p.Results("/src", 3, Analyzers(), findingsFixture())
		r := &report.Report{Results: rs}
		for _, res := range rs {
			name := strings.TrimPrefix(res.ID, "lint/")
			if want, ok := tt.want[name]; ok && res.Status != want {
				t.Errorf("policy %q: %s = %s, want %s (%s)", tt.policy, res.ID, res.Status, want, res.Message)
			}
			if name == "httpshutdown" {
				details := strings.Join(res.Details, "\n")
				if !strings.Contains(details, "main.go:20:2: suppressed (pprof on localhost): http.ListenAndServe") {
					t.Errorf("suppressed finding not reported as suppressed (reason):\n%s", details)
				}
				if res.Metrics["findings"] != 1 || res.Metrics["suppressed"] != 1 {
					t.Errorf("httpshutdown metrics = %v, want 1 finding, 1 suppressed", res.Metrics)
				}
			}
		}
		if gotErr, wantErr := r.Err() != nil, tt.policy != "k8swatchcancel=warn,httpshutdown=warn"; gotErr != wantErr {
			t.Errorf("policy %q: report error %v, want blocking=%v", tt.policy, r.Err(), wantErr)
		}
	}
	// Suppressed only: passes, and still lists the finding.
	only := findingsFixture()[1:2]
	for _, res := range Policy(nil).Results("/src", -1, Analyzers(), only) {
		if res.ID == "lint/httpshutdown" && (res.Status != report.Pass || len(res.Details) != 1) {
			t.Errorf("all-suppressed analyzer = %s %v, want pass listing the suppressed finding", res.Status, res.Details)
		}
	}
}

func TestSARIF(t *testing.T) {
	p, _ := ParsePolicy("k8swatchcancel=warn")
	b, err := SARIF("/src", Analyzers(), findingsFixture(), p)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string
					Rules []struct{ ID string }
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI, URIBaseID string }
						Region           struct{ StartLine int }
					}
				}
				Suppressions []struct{ Kind, Justification string }
			}
		}
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Tool.Driver.Rules) != len(Analyzers()) {
		t.Fatalf("not a SARIF 2.1.0 log with one rule per analyzer:\n%s", b)
	}
	run := log.Runs[0]
	if len(run.Results) != 3 {
		t.Fatalf("%d results, want 3:\n%s", len(run.Results), b)
	}
	want := []struct {
		rule, level string
		line        int
		suppressed  string
	}{
		{"httpshutdown", "error", 10, ""},
		{"httpshutdown", "error", 20, "pprof on localhost"},
		{"k8swatchcancel", "warning", 30, ""},
	}
	for i, w := range want {
		r := run.Results[i]
		loc := r.Locations[0].PhysicalLocation
		if r.RuleID != w.rule || run.Tool.Driver.Rules[r.RuleIndex].ID != w.rule || r.Level != w.level || loc.Region.StartLine != w.line || loc.ArtifactLocation.URI != "main.go" || loc.ArtifactLocation.URIBaseID != "%SRCROOT%" {
			t.Errorf("result %d = %+v, want %+v", i, r, w)
		}
		if got := ""; len(r.Suppressions) > 0 {
			got = r.Suppressions[0].Justification
			if r.Suppressions[0].Kind != "inSource" || got != w.suppressed {
				t.Errorf("result %d suppression = %+v, want inSource %q", i, r.Suppressions, w.suppressed)
			}
		} else if w.suppressed != "" {
			t.Errorf("result %d: suppression missing", i)
		}
	}
}

// A SARIF location is a URI: GitHub decodes "auth%2Fhandler.go" as
// auth/handler.go and drops what follows '#' or '?', so a finding in a
// file so named was shown on another file of the repository (or on
// none). File names are what the source chose: Go compiles all of these.
// And a message is printed too (lint --format sarif): no runner command.
func TestSARIFLocationIsTheFile(t *testing.T) {
	for _, name := range []string{"auth%2Fhandler.go", "q#frag?.go", "a b.go", "..x.go", "a:b.go", "sub/%2e%2e/%2e%2e/etc/passwd.go", "日本.go"} {
		t.Run(name, func(t *testing.T) {
			f := Finding{Analyzer: "httpshutdown", Pos: token.Position{Filename: "/src/" + name, Line: 3}, Message: "x ##[add-mask]FAIL"}
			b, err := SARIF("/src", Analyzers(), []Finding{f}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(string(b), "\n") {
				if c := safetext.Command(l); c != "" {
					t.Errorf("a runner reads command %q in %q", c, l)
				}
			}
			var log struct {
				Runs []struct {
					Results []struct {
						Message   struct{ Text string }
						Locations []struct {
							PhysicalLocation struct {
								ArtifactLocation struct{ URI, URIBaseID string }
							}
						}
					}
				}
			}
			if err := json.Unmarshal(b, &log); err != nil {
				t.Fatal(err)
			}
			r := log.Runs[0].Results[0]
			loc := r.Locations[0].PhysicalLocation.ArtifactLocation
			// As code scanning reads it: a reference resolved against the root.
			root, _ := url.Parse("file:///repo/")
			u, err := url.Parse(loc.URI)
			if err == nil {
				u = root.ResolveReference(u)
			}
			if err != nil || u.Path != "/repo/"+name || u.RawQuery != "" || u.Fragment != "" || loc.URIBaseID != "%SRCROOT%" {
				t.Errorf("uri %q (base %q) reads as %v (err %v), want %q under %%SRCROOT%%", loc.URI, loc.URIBaseID, u, err, name)
			}
			if r.Message.Text != f.Message {
				t.Errorf("message %q, want %q exactly", r.Message.Text, f.Message)
			}
		})
	}
}
