package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/report"
)

// passes checks the report lines of a gate run: every wanted ID with its
// status, e.g. "PASS smoke/startup".
func wantLines(t *testing.T, report string, want ...string) {
	t.Helper()
	for _, w := range want {
		mark, id, _ := strings.Cut(w, " ")
		if !strings.Contains(report, "["+mark+"] "+id) {
			t.Errorf("report lacks [%s] %s:\n%s", mark, id, report)
		}
	}
}

// TestEngineCheck runs every gate on the example service: size, scan
// (Trivy downloading the fixture DB from the mirror), upx, harden, lint and
// smoke (the image as a Dagger service).
func TestEngineCheck(t *testing.T) {
	scanner(t)
	t.Parallel()
	out := mustCall(t, "--source=./testdata/service", "with-trivy-db-repository", "--repository="+env.dbRepo,
		"with-max-size", "--size=20MB", "check")
	wantLines(t, out, "PASS size/compressed", "PASS scan/vulnerabilities", "PASS upx/packed", "PASS harden/user-nonroot",
		"PASS lint/httpshutdown", "PASS smoke/startup", "PASS smoke/sigterm-drain", "PASS smoke/sigterm-exit")
	if !strings.Contains(out, "max_bytes=20000000 B (20 MB)") || !strings.Contains(out, "0 failed, 0 skipped") {
		t.Errorf("check report:\n%s", out)
	}
}

// TestEngineCheckSwitchedOff: a gate switched off shows as skipped with its
// reason; a bad choice fails before anything is built.
func TestEngineCheckSwitchedOff(t *testing.T) {
	t.Parallel()
	out := mustCall(t, "--source=./testdata/service", "without-scan", "--reason=scanned by the registry",
		"without-smoke", "--reason=needs a database", "check", "--format=json")
	for _, s := range []string{`"id": "scan/off"`, "scanned by the registry", `"id": "smoke/off"`, "needs a database", `"passed": true`} {
		if !strings.Contains(out, s) {
			t.Errorf("JSON report lacks %s:\n%s", s, out)
		}
	}
	wantFail(t, call(t, "--source=./testdata/service", "with-max-size", "--size=25M", "check"), "25M")
	wantFail(t, call(t, "--source=./testdata/service", "without-smoke", "--reason=", "check"), "give the reason")
}

// TestEngineScan: the vulnerable variant fails on CVE-2022-32149, the fixed
// one passes; the DB comes from the mirror or from a directory.
func TestEngineScan(t *testing.T) {
	scanner(t)
	t.Parallel()
	t.Run("vulnerable", func(t *testing.T) {
		t.Parallel()
		r := call(t, "--source=./testdata/vuln/xtext-0.3.7", "with-trivy-db-repository", "--repository="+env.dbRepo, "scan")
		wantFail(t, r, "CVE-2022-32149", "scan/vulnerabilities")
	})
	t.Run("fixed", func(t *testing.T) {
		t.Parallel()
		out := mustCall(t, "--source=./testdata/vuln/xtext-0.3.8", "with-trivy-db-repository", "--repository="+env.dbRepo, "scan")
		wantLines(t, out, "PASS scan/vulnerabilities")
	})
	t.Run("db directory", func(t *testing.T) {
		t.Parallel()
		r := call(t, "--source=./testdata/vuln/xtext-0.3.7", "with-trivy-db", "--db="+env.dbDir, "scan")
		wantFail(t, r, "CVE-2022-32149")
	})
	t.Run("ignored", func(t *testing.T) {
		t.Parallel()
		ignore := filepath.Join(t.TempDir(), ".trivyignore")
		if err := os.WriteFile(ignore, []byte("# accepted until the upgrade lands\nCVE-2022-32149 exp:2999-01-01\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := mustCall(t, "--source=./testdata/vuln/xtext-0.3.7", "with-trivy-db-repository", "--repository="+env.dbRepo,
			"with-ignorefile", "--file="+ignore, "scan")
		wantLines(t, out, "PASS scan/vulnerabilities")
		if !strings.Contains(out, "accepted until the upgrade lands") {
			t.Errorf("ignored finding without its reason:\n%s", out)
		}
	})
	t.Run("no DB", func(t *testing.T) {
		t.Parallel()
		// Trivy's default repository, which no test fills: its DB
		// volume is its own (one per repository), and stays empty.
		r := call(t, "--source=./testdata/service", "scan")
		wantFail(t, r, "could not download its vulnerability DB", "with-trivy-db-repository", "without-scan")
	})
}

// TestEngineScanReport: the files for upload, without failing on the CVE.
func TestEngineScanReport(t *testing.T) {
	scanner(t)
	t.Parallel()
	dir := t.TempDir()
	mustCall(t, "--source=./testdata/vuln/xtext-0.3.7", "with-trivy-db-repository", "--repository="+env.dbRepo,
		"scan-report", "export", "--path="+dir)
	for f, want := range map[string]string{"trivy.json": "CVE-2022-32149", "trivy.sarif": `"version": "2.1.0"`, "go-image-scan.json": `"status": "fail"`} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), want) {
			t.Errorf("%s lacks %s", f, want)
		}
	}
}

// TestEngineSmoke: the example service passes; each broken variant fails
// the checks that describe its fault.
func TestEngineSmoke(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		variant string
		want    []string
	}{
		{"service", []string{"PASS smoke/startup", "PASS smoke/health-independent", "PASS smoke/readiness", "PASS smoke/sigterm-drain", "PASS smoke/sigterm-readiness", "PASS smoke/sigterm-exit"}},
		{"k8s/no-sigterm", []string{"FAIL smoke/sigterm-drain", "FAIL smoke/sigterm-readiness"}},
		{"k8s/health-on-business-port", []string{"FAIL smoke/health-independent"}},
		{"k8s/readiness-always-200", []string{"FAIL smoke/readiness"}},
		{"k8s/main-returns-before-drain", []string{"FAIL smoke/sigterm-drain"}},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			t.Parallel()
			out := mustCall(t, "--source=./testdata/"+tc.variant, "smoke", "--no-fail")
			wantLines(t, out, tc.want...)
			if tc.variant == "service" {
				if !strings.Contains(out, "0 failed") {
					t.Errorf("service:\n%s", out)
				}
				// The service runs as the image's user, as in the CLI's
				// runners, and never as root.
				if !strings.Contains(out, "as uid 65532 gid 65532") {
					t.Errorf("the report does not say the service ran as 65532:65532:\n%s", out)
				}
				t.Logf("the example service's smoke report (its start-up and shutdown times, measured):\n%s", out)
			}
		})
	}
}

// TestEngineLint: the same verdicts as `go-image lint` (the in-process
// checker) on the variants, check by check.
func TestEngineLint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		variant string
		want    []string
	}{
		{"service", []string{"PASS lint/k8sclientperrequest", "PASS lint/k8swatchcancel", "PASS lint/httpshutdown", "PASS lint/sigterm", "PASS lint/healthmux"}},
		{"k8s/no-sigterm", []string{"FAIL lint/httpshutdown", "FAIL lint/sigterm"}},
		{"k8s/health-on-business-port", []string{"FAIL lint/healthmux"}},
		{"k8s/shutdown-no-timeout", []string{"FAIL lint/httpshutdown"}},
		{"k8s/readiness-always-200", nil},
		{"k8s/main-returns-before-drain", nil},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			t.Parallel()
			out := mustCall(t, "--source=./testdata/"+tc.variant, "lint", "--format=json", "--no-fail")
			var got struct{ Results []report.Result }
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("lint --format=json: %v\n%s", err, out)
			}
			want, err := lint.CheckWith(context.Background(), testdata(tc.variant), lint.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Results) != len(want) {
				t.Fatalf("dagger lint gave %d results, go-image lint %d:\n%s", len(got.Results), len(want), out)
			}
			for i := range want {
				g, w := got.Results[i], want[i]
				if g.ID != w.ID || g.Status != w.Status || len(g.Details) != len(w.Details) {
					t.Errorf("%s: dagger %s with %d details, CLI %s with %d", w.ID, g.Status, len(g.Details), w.Status, len(w.Details))
				}
			}
			var text strings.Builder
			for _, r := range got.Results {
				fmt.Fprintf(&text, "[%s] %s\n", strings.ToUpper(map[report.Status]string{report.Pass: "pass", report.Fail: "fail", report.Warn: "warn", report.Skipped: "skip"}[r.Status]), r.ID)
			}
			wantLines(t, text.String(), tc.want...)
		})
	}
	// A policy that warns: the finding is shown and does not block.
	out := mustCall(t, "--source=./testdata/k8s/no-sigterm", "with-lint-policy", "--policy=httpshutdown=warn,sigterm=warn", "lint")
	wantLines(t, out, "WARN lint/httpshutdown", "WARN lint/sigterm")
	// A suppression with its reason passes, and is reported, never
	// dropped: shutdown-no-timeout with the finding suppressed at its line.
	src := t.TempDir()
	if err := os.CopyFS(src, os.DirFS(testdata("k8s", "shutdown-no-timeout"))); err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile(filepath.Join(src, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	const call0 = "srv.Shutdown(context.Background())"
	edited := strings.Replace(string(code), call0+"; err != nil {", call0+"; err != nil { //go-image:ignore httpshutdown -- e2e: the drain is bounded by the pod's grace period", 1)
	if edited == string(code) {
		t.Fatalf("testdata/k8s/shutdown-no-timeout no longer has %s", call0)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustCall(t, "--source="+src, "lint")
	wantLines(t, out, "PASS lint/httpshutdown")
	if !strings.Contains(out, "suppressed (e2e: the drain is bounded by the pod's grace period)") {
		t.Errorf("suppressed finding not reported with its reason:\n%s", out)
	}
	// SARIF for code scanning.
	sarif := mustCall(t, "--source=./testdata/k8s/shutdown-no-timeout", "lint", "--format=sarif", "--no-fail")
	if !strings.Contains(sarif, `"version": "2.1.0"`) || !strings.Contains(sarif, `"ruleId": "httpshutdown"`) {
		t.Errorf("lint SARIF:\n%s", sarif)
	}
	// A replace outside --source is named, with the fix.
	wantFail(t, call(t, "--source=./testdata/k8s/clientset-per-request", "lint"),
		"k8s.io/client-go => ../client-go-stub", "outside --source")
}

// TestEngineGateOptions: each chainable gate option reaches its gate. The
// fixture DB has CVE-2022-32149 (HIGH, fixed in 0.3.8) and GOIMAGE-TEST-NOFIX
// (MEDIUM, no fix) for golang.org/x/text 0.3.7.
func TestEngineGateOptions(t *testing.T) {
	t.Parallel()
	vuln := []string{"--source=./testdata/vuln/xtext-0.3.7", "with-trivy-db-repository", "--repository=" + env.dbRepo}
	t.Run("severity", func(t *testing.T) {
		scanner(t)
		t.Parallel()
		out := mustCall(t, append(vuln, "with-severity", "--severity=CRITICAL", "scan")...)
		wantLines(t, out, "PASS scan/vulnerabilities")
		if !strings.Contains(out, "no vulnerabilities at CRITICAL") {
			t.Errorf("scan at CRITICAL:\n%s", out)
		}
	})
	t.Run("ignore-unfixed", func(t *testing.T) {
		scanner(t)
		t.Parallel()
		ignore := filepath.Join(t.TempDir(), ".trivyignore")
		if err := os.WriteFile(ignore, []byte("# e2e: the fixed one is accepted, the unfixed one is left\nCVE-2022-32149 exp:2999-01-01\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		medium := append(append([]string(nil), vuln...), "with-severity", "--severity=MEDIUM", "with-ignorefile", "--file="+ignore)
		wantFail(t, call(t, append(medium, "scan")...), "GOIMAGE-TEST-NOFIX")
		out := mustCall(t, append(medium, "with-ignore-unfixed", "scan")...)
		wantLines(t, out, "PASS scan/vulnerabilities")
		if !strings.Contains(out, "GOIMAGE-TEST-NOFIX") || !strings.Contains(out, "ignore-unfixed") {
			t.Errorf("the unfixed finding is not listed as ignored:\n%s", out)
		}
	})
	t.Run("check", func(t *testing.T) {
		t.Parallel()
		out := mustCall(t, "--source=./testdata/service", "without-scan", "--reason=scanned by the registry",
			"without-check", "--id=harden/no-setuid", "--reason=the base ships ping",
			"without-lint", "--reason=linted in the repository's CI", "with-upx", "--policy=warn",
			"with-smoke", "--startup-budget=7s", "--grace=20s", "check")
		wantLines(t, out, "SKIP harden/no-setuid", "SKIP lint/off", "PASS upx/packed", "PASS smoke/startup", "PASS smoke/sigterm-exit")
		for _, s := range []string{"the base ships ping", "linted in the repository's CI", "(budget 7s)", "(grace 20s)"} {
			if !strings.Contains(out, s) {
				t.Errorf("check report lacks %q:\n%s", s, out)
			}
		}
	})
	t.Run("operational routes", func(t *testing.T) {
		t.Parallel()
		// The variant's business routes declared operational: healthmux
		// has nothing left to report (without it, TestEngineLint's FAIL).
		out := mustCall(t, "--source=./testdata/k8s/health-on-business-port", "with-lint-operational-routes", "--routes=/hello,/slow", "lint")
		wantLines(t, out, "PASS lint/healthmux")
	})
	t.Run("bad choices", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			args []string
			says string
		}{
			{[]string{"with-upx", "--policy=maybe"}, "use deny, warn or allow"},
			{[]string{"with-severity", "--severity=SEVERE"}, "SEVERE"},
			{[]string{"without-check", "--id=harden/no-setuid", "--reason="}, "want id=reason"},
			{[]string{"with-smoke", "--health-path=healthz"}, "must start with /"},
		} {
			wantFail(t, call(t, append(append([]string{"--source=./testdata/service"}, tc.args...), "check")...), tc.says)
		}
	})
}
