package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestSmokeCLI(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: the daemonless smoke runner runs linux images as local processes")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "service.tar")
	if code, _, stderr := goImage(t, "build", "--source", "../../testdata/service", "--output", img, "--platform", "linux/"+runtime.GOARCH); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	out := filepath.Join(dir, "smoke.json")
	code, _, stderr := goImage(t, "smoke", "--image", img, "--format", "json", "--output", out)
	if code != 0 {
		t.Fatalf("smoke: exit %d\n%s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Passed  bool
		Results []struct {
			ID      string
			Status  string
			Metrics map[string]float64
		}
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if !r.Passed || len(r.Results) != 7 {
		t.Fatalf("passed=%v with %d results:\n%s", r.Passed, len(r.Results), b)
	}
	for _, res := range r.Results {
		if res.ID == "smoke/sigterm-exit" && !(res.Metrics["shutdown_seconds"] > 0) {
			t.Errorf("no measured shutdown time: %v", res.Metrics)
		}
	}

	// A service told nothing about its ports fails start-up within the budget.
	code, stdout, _ := goImage(t, "smoke", "--image", img, "--probe-env", "", "--probe-port", "1", "--startup-budget", "1s")
	if code != 1 || !strings.Contains(stdout, "[FAIL] smoke/startup") {
		t.Errorf("fixed unused probe port: exit %d, want 1 with smoke/startup failing:\n%s", code, stdout)
	}
}

func TestSmokeCLIUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--image is required"},
		{[]string{"--image", "x.tar", "--health-path", "healthz"}, "must start with /"},
		{[]string{"--image", "x.tar", "--business-env", "PORT=8080"}, "must contain {port}"},
		{[]string{"--image", "x.tar", "--format", "xml"}, `--format "xml"`},
		{[]string{"--image", "x.tar", "--runner", "docker"}, `--runner "docker"`},
		{[]string{"--image", "x.tar", "--no-isolation"}, "--no-isolation was removed"},
	}
	for _, tt := range tests {
		code, _, stderr := goImage(t, append([]string{"smoke"}, tt.args...)...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("smoke %v: exit %d, want 2 with %q:\n%s", tt.args, code, tt.want, stderr)
		}
	}
}
