package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/imagetest"
	"dagger/go-image/internal/local"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/trivy"
	"dagger/go-image/internal/trivy/trivytest"
)

// Errors that need no trivy: bad input, and no scanner, which must fail
// with the way to build one rather than pass.
func TestScanUsageAndMissingTrivy(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.tar")
	if err := imagefile.Write(good, "good:latest", imagetest.Compliant(t)); err != nil {
		t.Fatal(err)
	}
	yaml := filepath.Join(t.TempDir(), ".trivyignore.yaml")
	if err := os.WriteFile(yaml, []byte("vulnerabilities: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "trivy")
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no --image", nil, 2, "--image is required"},
		{"bad severity", []string{"--image", good, "--severity", "SEVERE"}, 2, `severity "SEVERE"`},
		{"bad format", []string{"--image", good, "--format", "xml"}, 2, `--format "xml"`},
		{"YAML ignore file", []string{"--image", good, "--ignorefile", yaml, "--trivy", missing}, 1, "YAML form of .trivyignore is not supported"},
		{"no trivy", []string{"--image", good, "--trivy", missing}, 1, "go install github.com/aquasecurity/trivy/cmd/trivy@" + trivy.PinnedVersion},
		{"check --scan without trivy", []string{"--image", good, "--trivy", missing}, 1, "ci/install-tools.sh"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := "scan"
			if strings.HasPrefix(tt.name, "check") {
				cmd = "check"
				tt.args = append(tt.args, "--scan")
			}
			code, stdout, stderr := goImage(t, append([]string{cmd}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) || strings.Contains(stdout, "PASS") {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr (want %q):\n%s", code, tt.code, stdout, tt.stderr, stderr)
			}
		})
	}
}

func TestScanCommand(t *testing.T) {
	bin := trivytest.Binary(t)
	t.Setenv("GOIMAGE_TRIVY", bin)
	cache := trivytest.CacheDir(t)
	dir := t.TempDir()
	img, err := local.Build(context.Background(), local.Request{Source: "../../testdata/vuln/xtext-0.3.7", Options: recipe.Options{SourceDateEpoch: 1700000000}})
	if err != nil {
		t.Fatal(err)
	}
	tar := filepath.Join(dir, "xtext.tar")
	if err := imagefile.Write(tar, "xtext:0.3.7", img); err != nil {
		t.Fatal(err)
	}
	jsonOut, sarifOut := filepath.Join(dir, "trivy.json"), filepath.Join(dir, "trivy.sarif")

	code, stdout, stderr := goImage(t, "scan", "--image", tar, "--cache-dir", cache, "--json", jsonOut, "--sarif", sarifOut)
	if code != 1 || !strings.Contains(stdout, "[FAIL] scan/vulnerabilities") || !strings.Contains(stdout, "BLOCKING CVE-2022-32149 HIGH") ||
		!strings.Contains(stderr, "CVE-2022-32149 (golang.org/x/text v0.3.7)") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var rep struct{ SchemaVersion int }
	if b, err := os.ReadFile(jsonOut); err != nil || json.Unmarshal(b, &rep) != nil || rep.SchemaVersion != 2 {
		t.Errorf("--json: %v, schema %d", err, rep.SchemaVersion)
	}
	var sarif struct{ Version string }
	if b, err := os.ReadFile(sarifOut); err != nil || json.Unmarshal(b, &sarif) != nil || sarif.Version != "2.1.0" {
		t.Errorf("--sarif: %v, version %q", err, sarif.Version)
	}

	// The ignore file passes the gate and says why, in the JSON report too.
	ignore := filepath.Join(dir, "accepted.trivyignore")
	if err := os.WriteFile(ignore, []byte("# we only parse tags we generate\nCVE-2022-32149\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = goImage(t, "scan", "--image", tar, "--cache-dir", cache, "--ignorefile", ignore, "--format", "json")
	var out struct {
		Passed  bool
		Results []struct {
			ID, Status string
			Details    []string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != 0 || !out.Passed || len(out.Results) != 1 {
		t.Fatalf("exit %d, %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout, stderr)
	}
	if !strings.Contains(strings.Join(out.Results[0].Details, "\n"), "[accepted.trivyignore:2: we only parse tags we generate]") {
		t.Errorf("the ignore is not recorded:\n%s", strings.Join(out.Results[0].Details, "\n"))
	}

	// --no-fail reports the failure and exits 0.
	if code, stdout, _ := goImage(t, "scan", "--image", tar, "--cache-dir", cache, "--no-fail", "--format", "markdown"); code != 0 || !strings.Contains(stdout, "| `scan/vulnerabilities` | ❌ fail |") {
		t.Errorf("--no-fail: exit %d\n%s", code, stdout)
	}

	// check --scan runs the gate among the others.
	code, stdout, _ = goImage(t, "check", "--image", tar, "--scan", "--cache-dir", cache)
	if code != 1 || !strings.Contains(stdout, "[FAIL] scan/vulnerabilities") || !strings.Contains(stdout, "[PASS] harden/user-nonroot") {
		t.Errorf("check --scan: exit %d\n%s", code, stdout)
	}

	// Without a DB the scan fails and says how to provide one.
	code, _, stderr = goImage(t, "scan", "--image", tar, "--cache-dir", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "trivy image --download-db-only --cache-dir") {
		t.Errorf("no DB: exit %d\n%s", code, stderr)
	}
}

// TestScanPolicyIgnoreFileDefault: without --ignorefile, the .trivyignore of
// the given directory is used (a release's --source), and none is fine.
func TestScanPolicyIgnoreFileDefault(t *testing.T) {
	withFile, empty := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(withFile, ".trivyignore"), []byte("# accepted: not reachable\nCVE-2022-32149\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, wantPath string
		wantIDs             int
	}{
		{"source with .trivyignore", withFile, filepath.Join(withFile, ".trivyignore"), 1},
		{"source without one", empty, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Unset --ignorefile, as `release --source DIR` leaves it.
			p, path, err := choices.Scan{}.Policy(context.Background(), local.Files{Root: tt.dir})
			if err != nil {
				t.Fatal(err)
			}
			if path != tt.wantPath {
				t.Errorf("ignore file = %q, want %q", path, tt.wantPath)
			}
			n := 0
			if p.Ignore != nil {
				n = len(p.Ignore.Entries)
			}
			if n != tt.wantIDs {
				t.Errorf("%d ignore entries, want %d", n, tt.wantIDs)
			}
		})
	}
}
