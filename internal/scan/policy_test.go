package scan

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dagger/go-image/internal/report"
)

func readReport(t *testing.T, name string) *TrivyReport {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseReport(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustSeverity(t *testing.T, s string) []string {
	t.Helper()
	sev, err := ParseSeverity(s)
	if err != nil {
		t.Fatal(err)
	}
	return sev
}

func mustIgnore(t *testing.T, text string) *IgnoreList {
	t.Helper()
	l, err := ParseIgnore(".trivyignore", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestParseSeverity(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "HIGH,CRITICAL", want: []string{"HIGH", "CRITICAL"}},
		{in: "HIGH", want: []string{"HIGH", "CRITICAL"}},
		{in: "medium", want: []string{"MEDIUM", "HIGH", "CRITICAL"}},
		{in: "UNKNOWN", want: []string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}},
		{in: "CRITICAL, MEDIUM", want: []string{"MEDIUM", "CRITICAL"}},
		{in: "low,LOW", want: []string{"LOW", "MEDIUM", "HIGH", "CRITICAL"}},
		{in: "SEVERE", wantErr: true},
		{in: " , ", wantErr: true},
	} {
		got, err := ParseSeverity(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseSeverity(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSeverity(%q): %v", tc.in, err)
			continue
		}
		want := slices.Clone(tc.want)
		slices.SortFunc(want, func(a, b string) int { return severityRank(a) - severityRank(b) })
		if !slices.Equal(got, want) {
			t.Errorf("ParseSeverity(%q) = %v, want %v", tc.in, got, want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		report   string
		policy   Policy
		status   report.Status
		blocking []string
		ignored  map[string]string // ID -> substring of the reason
		below    []string
	}{
		{
			name:     "default threshold blocks HIGH and CRITICAL, unfixed included",
			report:   "mixed.json",
			status:   report.Fail,
			blocking: []string{"CVE-2022-32149", "CVE-2099-0002"},
			below:    []string{"CVE-2099-0003", "CVE-2099-0004", "CVE-2099-0005"},
		},
		{
			name:     "ignore-unfixed drops every status but fixed",
			report:   "mixed.json",
			policy:   Policy{IgnoreUnfixed: true},
			status:   report.Fail,
			blocking: []string{"CVE-2022-32149"},
			ignored:  map[string]string{"CVE-2099-0002": "ignore-unfixed", "CVE-2099-0005": "ignore-unfixed"},
			below:    []string{"CVE-2099-0003", "CVE-2099-0004"},
		},
		{
			name:   "ignore file and ignore-unfixed together pass",
			report: "mixed.json",
			policy: Policy{IgnoreUnfixed: true, Ignore: mustIgnore(t, "# not reachable: we never parse Accept-Language\nCVE-2022-32149 exp:2026-12-31\n")},
			status: report.Pass,
			ignored: map[string]string{
				"CVE-2022-32149": ".trivyignore:2 exp:2026-12-31: not reachable",
				"CVE-2099-0002":  "ignore-unfixed",
				"CVE-2099-0005":  "ignore-unfixed",
			},
			below: []string{"CVE-2099-0003", "CVE-2099-0004"},
		},
		{
			name:     "an expired ignore entry no longer applies",
			report:   "mixed.json",
			policy:   Policy{IgnoreUnfixed: true, Ignore: mustIgnore(t, "CVE-2022-32149 exp:2026-06-01\n")},
			status:   report.Fail,
			blocking: []string{"CVE-2022-32149"},
			ignored:  map[string]string{"CVE-2099-0002": "ignore-unfixed", "CVE-2099-0005": "ignore-unfixed"},
			below:    []string{"CVE-2099-0003", "CVE-2099-0004"},
		},
		{
			name:     "a minimum threshold includes everything above it",
			report:   "mixed.json",
			policy:   Policy{Severities: mustSeverity(t, "MEDIUM"), Ignore: mustIgnore(t, "CVE-2022-32149\nCVE-2099-0002\n")},
			status:   report.Fail,
			blocking: []string{"CVE-2099-0003"},
			ignored:  map[string]string{"CVE-2022-32149": ".trivyignore:1", "CVE-2099-0002": ".trivyignore:2"},
			below:    []string{"CVE-2099-0004", "CVE-2099-0005"},
		},
		{
			name:     "a list is exact, and no severity means UNKNOWN",
			report:   "mixed.json",
			policy:   Policy{Severities: mustSeverity(t, "UNKNOWN,CRITICAL")},
			status:   report.Fail,
			blocking: []string{"CVE-2099-0002", "CVE-2099-0005"},
			below:    []string{"CVE-2022-32149", "CVE-2099-0003", "CVE-2099-0004"},
		},
		{
			name:   "a clean Go binary passes",
			report: "clean.json",
			status: report.Pass,
		},
		{
			name:   "nothing scanned warns",
			report: "empty.json",
			status: report.Warn,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := readReport(t, tc.report)
			p := tc.policy
			p.Now = now
			res := p.Evaluate(r)
			if res.Status != tc.status || res.ID != CheckID || res.Gate != GateName {
				t.Fatalf("got %s %s %q, want %s %s", res.ID, res.Status, res.Message, CheckID, tc.status)
			}
			var gotBlocking, gotBelow []string
			gotIgnored := map[string]string{}
			for _, f := range p.classify(r) {
				switch f.kind {
				case blocking:
					gotBlocking = append(gotBlocking, f.VulnerabilityID)
				case below:
					gotBelow = append(gotBelow, f.VulnerabilityID)
				case ignored:
					gotIgnored[f.VulnerabilityID] = f.reason
				}
			}
			slices.Sort(gotBlocking)
			slices.Sort(gotBelow)
			if !slices.Equal(gotBlocking, tc.blocking) {
				t.Errorf("blocking = %v, want %v", gotBlocking, tc.blocking)
			}
			if !slices.Equal(gotBelow, tc.below) {
				t.Errorf("below threshold = %v, want %v", gotBelow, tc.below)
			}
			if len(gotIgnored) != len(tc.ignored) {
				t.Errorf("ignored = %v, want %v", gotIgnored, tc.ignored)
			}
			for id, want := range tc.ignored {
				if !strings.Contains(gotIgnored[id], want) {
					t.Errorf("ignored[%s] reason = %q, want it to contain %q", id, gotIgnored[id], want)
				}
			}
			// The message names every blocker; the details list every finding.
			for _, id := range tc.blocking {
				if !strings.Contains(res.Message, id) {
					t.Errorf("message %q does not name %s", res.Message, id)
				}
			}
			n := len(tc.blocking) + len(tc.below) + len(tc.ignored)
			if len(res.Details) != n || res.Metrics["vulnerabilities"] != float64(n) {
				t.Errorf("details = %d lines, metrics = %v, want %d findings:\n%s", len(res.Details), res.Metrics, n, strings.Join(res.Details, "\n"))
			}
			if res.Metrics["blocking"] != float64(len(tc.blocking)) || res.Metrics["ignored"] != float64(len(tc.ignored)) {
				t.Errorf("metrics = %v", res.Metrics)
			}
			for i, d := range res.Details {
				if i < len(tc.blocking) && !strings.HasPrefix(d, "BLOCKING ") {
					t.Errorf("detail %d = %q, want blockers first", i, d)
				}
			}
		})
	}
}

func TestEvaluateDetailLine(t *testing.T) {
	r := readReport(t, "mixed.json")
	p := Policy{Now: time.Now(), IgnoreUnfixed: true}
	res := p.Evaluate(r)
	want := "BLOCKING CVE-2022-32149 HIGH     golang.org/x/text v0.3.7 -> 0.3.8 in usr/local/bin/app: ParseAcceptLanguage takes a long time"
	if res.Details[0] != want {
		t.Errorf("first detail:\n got %q\nwant %q", res.Details[0], want)
	}
	if !slices.ContainsFunc(res.Details, func(d string) bool {
		return strings.HasPrefix(d, "ignored  CVE-2099-0002 CRITICAL golang.org/x/net v0.1.0 -> no fix") &&
			strings.HasSuffix(d, "[no fixed version (ignore-unfixed)]")
	}) {
		t.Errorf("no ignored line for CVE-2099-0002 in:\n%s", strings.Join(res.Details, "\n"))
	}
}

func TestParseReportRejectsOtherSchemas(t *testing.T) {
	for _, name := range []string{"schema3.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseReport(data); err == nil || !strings.Contains(err.Error(), "SchemaVersion 3") {
			t.Errorf("ParseReport(%s) error = %v, want a SchemaVersion error", name, err)
		}
	}
	if _, err := ParseReport([]byte("2026-06-01T12:00:00Z INFO Loaded\n{")); err == nil {
		t.Error("ParseReport accepted non-JSON")
	}
}

func TestParseIgnore(t *testing.T) {
	l, err := ParseIgnore(".trivyignore", []byte(`# header comment, separated by a blank line

# accepted: x/text is only used for tags we generate
# reviewed by security, see #42
CVE-2022-32149 exp:2027-01-31
GHSA-69ch-w2m2-3vjp
   CVE-2099-0001   some trailing words exp:2026-02-28 exp:2030-01-01
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []IgnoreEntry{
		{ID: "CVE-2022-32149", Line: 5, Expires: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
			Reason: "accepted: x/text is only used for tags we generate reviewed by security, see #42"},
		{ID: "GHSA-69ch-w2m2-3vjp", Line: 6},
		{ID: "CVE-2099-0001", Line: 7, Expires: time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)},
	}
	if len(l.Entries) != len(want) {
		t.Fatalf("entries = %+v, want %+v", l.Entries, want)
	}
	for i, w := range want {
		g := l.Entries[i]
		if g.ID != w.ID || g.Line != w.Line || !g.Expires.Equal(w.Expires) || g.Reason != w.Reason {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}

	// Expiry starts at 00:00 UTC on the exp date, as in Trivy.
	day := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	if e, expired := l.match("CVE-2022-32149", day.Add(-time.Nanosecond)); e == nil || expired {
		t.Errorf("entry expired before its date")
	}
	if e, expired := l.match("CVE-2022-32149", day.Add(time.Nanosecond)); e == nil || !expired {
		t.Errorf("entry still in force after its date")
	}
	if e, _ := l.match("CVE-2000-0000", day); e != nil {
		t.Errorf("matched an ID that is not listed: %+v", e)
	}
}

func TestParseIgnoreErrors(t *testing.T) {
	if _, err := ParseIgnore(".trivyignore", []byte("CVE-2022-32149 exp:31/01/2027\n")); err == nil || !strings.Contains(err.Error(), ".trivyignore:1") {
		t.Errorf("bad date: error = %v, want one naming .trivyignore:1", err)
	}
	dir := t.TempDir()
	y := filepath.Join(dir, ".trivyignore.yaml")
	if err := os.WriteFile(y, []byte("vulnerabilities:\n- id: CVE-2022-32149\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIgnoreFile(y); err == nil || !strings.Contains(err.Error(), "YAML") {
		t.Errorf("YAML ignore file: error = %v, want a not-supported error", err)
	}
	if _, err := ReadIgnoreFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing ignore file: no error")
	}
}

func TestCheckDBAge(t *testing.T) {
	now := time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		report  string
		updated time.Time
		max     time.Duration
		status  report.Status
	}{
		{name: "fresh DB keeps the pass", report: "clean.json", updated: now.Add(-6 * time.Hour), status: report.Pass},
		{name: "week-old DB warns", report: "clean.json", updated: now.Add(-8 * 24 * time.Hour), status: report.Warn},
		{name: "a longer limit accepts it", report: "clean.json", updated: now.Add(-8 * 24 * time.Hour), max: 30 * 24 * time.Hour, status: report.Pass},
		{name: "a failure stays a failure", report: "mixed.json", updated: now.Add(-80 * 24 * time.Hour), status: report.Fail},
		{name: "unknown age changes nothing", report: "clean.json", status: report.Pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Policy{Now: now, MaxDBAge: tc.max}
			res := p.Evaluate(readReport(t, tc.report))
			p.CheckDBAge(&res, tc.updated)
			if res.Status != tc.status {
				t.Errorf("status = %s (%s), want %s", res.Status, res.Message, tc.status)
			}
			if tc.updated.IsZero() {
				if _, ok := res.Metrics["db_age_hours"]; ok {
					t.Errorf("db_age_hours recorded for an unknown DB age")
				}
				return
			}
			if want := float64(int(now.Sub(tc.updated).Hours())); res.Metrics["db_age_hours"] != want {
				t.Errorf("db_age_hours = %v, want %v", res.Metrics["db_age_hours"], want)
			}
			if res.Status == report.Warn && !strings.Contains(res.Message, "8 days old") {
				t.Errorf("message %q does not give the DB's age", res.Message)
			}
		})
	}
}
