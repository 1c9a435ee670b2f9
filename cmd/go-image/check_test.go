package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/imagetest"
)

// checkImages writes a compliant image and one running as root.
func checkImages(t *testing.T) (good, root string) {
	t.Helper()
	dir := t.TempDir()
	good, root = filepath.Join(dir, "good.tar"), filepath.Join(dir, "root.tar")
	img := imagetest.Compliant(t)
	if err := imagefile.Write(good, "good:latest", img); err != nil {
		t.Fatal(err)
	}
	bad := imagetest.Config(t, img, func(c *v1.Config) { c.User = "0:0" })
	if err := imagefile.Write(root, "root:latest", bad); err != nil {
		t.Fatal(err)
	}
	return good, root
}

func TestCheck(t *testing.T) {
	good, root := checkImages(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"compliant passes", []string{"--image", good}, 0, "PASS: 12 passed, 0 warned, 0 failed, 0 skipped", ""},
		{"root fails", []string{"--image", root}, 1, "[FAIL] harden/user-nonroot", "1 gate check(s) failed:\n  harden/user-nonroot"},
		{"--no-fail reports but exits 0", []string{"--image", root, "--no-fail"}, 0, "FAIL: 11 passed", ""},
		{"skip with a reason", []string{"--image", root, "--skip", "harden/user-nonroot=debug image"}, 0, "[SKIP] harden/user-nonroot", ""},
		{"tight budget fails size", []string{"--image", good, "--max-size", "1MiB"}, 1, "[FAIL] size/compressed", "size/compressed"},
		{"markdown", []string{"--image", good, "--format", "markdown"}, 0, "| `harden/entrypoint` | ✅ pass |", ""},
		{"no --image", nil, 2, "", "--image is required"},
		{"bad size", []string{"--image", good, "--max-size", "lots"}, 2, "", `size "lots": want a number and a unit`},
		{"bad upx policy", []string{"--image", good, "--upx", "never"}, 2, "", "use deny, warn or allow"},
		{"bad format", []string{"--image", good, "--format", "xml"}, 2, "", `--format "xml": use text, json or markdown`},
		{"unknown skip", []string{"--image", good, "--skip", "harden/typo=x"}, 2, "", "unknown check"},
		{"missing file", []string{"--image", filepath.Join(t.TempDir(), "nope.tar")}, 1, "", "read image"},
		// The lint gate on request, with its policy: warned findings do not block.
		{"lint on request", []string{"--image", good, "--lint-source", "../../testdata/k8s/lint-suppressed"}, 1, "[FAIL] lint/k8swatchcancel", "lint/lintignore"},
		{"lint policy warn", []string{"--image", good, "--lint-source", "../../testdata/k8s/lint-suppressed", "--lint-policy", "k8swatchcancel=warn,lintignore=warn"}, 0, "[WARN] lint/k8swatchcancel", ""},
		{"bad lint policy", []string{"--image", good, "--lint-policy", "k8swatchcancel=later"}, 2, "", "--lint-policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := goImage(t, append([]string{"check"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", code, tt.code, tt.stdout, stdout, tt.stderr, stderr)
			}
		})
	}
}

func TestCheckJSONOutput(t *testing.T) {
	_, root := checkImages(t)
	out := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := goImage(t, "check", "--image", root, "--format", "json", "--output", out)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "wrote report to "+out) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Image   string
		Passed  bool
		Results []struct{ ID, Status string }
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, b)
	}
	if r.Passed || r.Image != root || len(r.Results) != 12 {
		t.Errorf("report = %+v", r)
	}
	for _, res := range r.Results {
		if (res.Status == "fail") != (res.ID == "harden/user-nonroot") {
			t.Errorf("%s is %s", res.ID, res.Status)
		}
	}
}

// TestCheckSmoke: --smoke adds the smoke gate after the image gates; its
// flags are validated like `go-image smoke`'s.
func TestCheckSmoke(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: the daemonless smoke runner runs linux images as local processes")
	}
	img := filepath.Join(t.TempDir(), "service.tar")
	if code, _, stderr := goImage(t, "build", "--source", "../../testdata/service", "--output", img, "--platform", "linux/"+runtime.GOARCH); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := goImage(t, "check", "--image", img, "--smoke")
	if code != 0 || !strings.Contains(stdout, "[PASS] smoke/sigterm-exit") || strings.Index(stdout, "harden/") > strings.Index(stdout, "smoke/") {
		t.Errorf("check --smoke: exit %d, want 0 with smoke after harden\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if code, stdout, _ := goImage(t, "check", "--image", img); code != 0 || strings.Contains(stdout, "smoke/") {
		t.Errorf("check without --smoke ran smoke: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := goImage(t, "check", "--image", img, "--smoke", "--health-path", "healthz"); code != 2 || !strings.Contains(stderr, "must start with /") {
		t.Errorf("check --smoke with a bad flag: exit %d, want 2\n%s", code, stderr)
	}
}
