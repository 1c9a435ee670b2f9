package main

import (
	"strings"
	"testing"
)

func TestLintCLI(t *testing.T) {
	tests := []struct {
		src    string
		code   int
		stdout string
	}{
		{"../../testdata/service", 0, "PASS: 4 passed, 0 warned, 0 failed"},
		{"../../testdata/k8s/clientset-per-request", 1, "[FAIL] lint/k8sclientperrequest"},
		{"../../testdata/k8s/shutdown-no-timeout", 1, "Shutdown(context.Background()) has no deadline"},
	}
	for _, tt := range tests {
		code, stdout, stderr := goImage(t, "lint", "--source", tt.src)
		if code != tt.code || !strings.Contains(stdout, tt.stdout) {
			t.Errorf("lint %s: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", tt.src, code, tt.code, tt.stdout, stdout, stderr)
		}
	}
	code, _, stderr := goImage(t, "lint", "--source", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "lint ") {
		t.Errorf("lint of an empty directory: exit %d, want 1 with a load error:\n%s", code, stderr)
	}
}
