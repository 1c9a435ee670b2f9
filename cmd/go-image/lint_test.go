package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLintCLI(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
	}{
		{[]string{"--source", "../../testdata/service"}, 0, "PASS: 6 passed, 0 warned, 0 failed"},
		{[]string{"--source", "../../testdata/k8s/clientset-per-request"}, 1, "[FAIL] lint/k8sclientperrequest"},
		{[]string{"--source", "../../testdata/k8s/shutdown-no-timeout"}, 1, "Shutdown(context.Background()) has no deadline"},
		// Suppressed findings are listed with their reason and do not count;
		// a suppression without a reason is a finding of its own.
		{[]string{"--source", "../../testdata/k8s/lint-suppressed"}, 1, "suppressed (pprof on localhost for on-call debugging; nothing to drain)"},
		{[]string{"--source", "../../testdata/k8s/lint-suppressed"}, 1, "[FAIL] lint/lintignore"},
		// Warned analyzers report and do not block.
		{[]string{"--source", "../../testdata/k8s/lint-suppressed", "--lint-policy", "k8swatchcancel=warn,lintignore=warn"}, 0, "PASS: 4 passed, 2 warned, 0 failed"},
		{[]string{"--source", "../../testdata/k8s/lint-suppressed", "--lint-policy", "k8swatchcancel=warn"}, 1, "[WARN] lint/k8swatchcancel"},
		// No signal handled at all in an HTTP service: the sigterm rule, with its own severity.
		{[]string{"--source", "../../testdata/k8s/no-sigterm"}, 1, "[FAIL] lint/sigterm"},
		{[]string{"--source", "../../testdata/k8s/no-sigterm", "--lint-policy", "sigterm=warn,httpshutdown=warn"}, 0, "[WARN] lint/sigterm"},
	}
	for _, tt := range tests {
		code, stdout, stderr := goImage(t, append([]string{"lint"}, tt.args...)...)
		if code != tt.code || !strings.Contains(stdout, tt.stdout) {
			t.Errorf("lint %v: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", tt.args, code, tt.code, tt.stdout, stdout, stderr)
		}
	}
	code, _, stderr := goImage(t, "lint", "--source", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "lint ") {
		t.Errorf("lint of an empty directory: exit %d, want 1 with a load error:\n%s", code, stderr)
	}
	code, _, stderr = goImage(t, "lint", "--source", "../../testdata/service", "--lint-policy", "httpshutdown=maybe")
	if code != 2 || !strings.Contains(stderr, "--lint-policy") {
		t.Errorf("bad --lint-policy: exit %d, want 2 naming the flag:\n%s", code, stderr)
	}
}

func TestLintSARIF(t *testing.T) {
	out := filepath.Join(t.TempDir(), "lint.sarif")
	code, _, stderr := goImage(t, "lint", "--source", "../../testdata/k8s/lint-suppressed", "--sarif", out, "--no-fail")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string
		Runs    []struct {
			Results []struct {
				RuleID       string
				Suppressions []struct{ Justification string }
			}
		}
	}
	if err := json.Unmarshal(b, &log); err != nil || log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("not SARIF 2.1.0 (%v):\n%s", err, b)
	}
	suppressed := 0
	for _, r := range log.Runs[0].Results {
		if len(r.Suppressions) > 0 {
			suppressed++
		}
	}
	if len(log.Runs[0].Results) != 4 || suppressed != 2 {
		t.Errorf("%d results, %d suppressed; want 4 and 2:\n%s", len(log.Runs[0].Results), suppressed, b)
	}
}
