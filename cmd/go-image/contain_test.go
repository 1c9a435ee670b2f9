package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"dagger/go-image/internal/sandbox"
	"dagger/go-image/internal/sandbox/sandboxtest"
)

// TestReleaseKeepsSecretsFromTheService releases a service whose init goes
// for the release's secrets, as a compromised dependency would: the
// registry token and key password in go-image's environment, and the
// --sign-key file named on its command line. The smoke gate runs it in its
// sandbox, where it finds none of them; it then exits before serving, so
// the release is blocked, and its report carries what the service saw.
func TestReleaseKeepsSecretsFromTheService(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: the smoke sandbox needs linux")
	}
	noDockerConfig(t)
	host := testRegistry(t, nil)
	dir := t.TempDir()
	bait := sandboxtest.NewBait(t)
	keyFile, _ := keyFiles(t, dir, "COSIGN_PASSWORD", bait.Password)
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	reportFile := filepath.Join(dir, "report.json")
	code, stdout, stderr := goImage(t, "release", "--source", sandboxtest.SnoopDir(), "--platform", "linux/"+runtime.GOARCH,
		"--address", host+"/acme/snoop:1", "--username", "ci", "--password-env", "REGISTRY_TOKEN", "--sign-key", keyFile,
		"--no-scan", "not under test", "--no-lint", "not under test", "--report", reportFile, "--format", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (the service never serves, so the smoke gate fails)\n%s", code, stderr)
	}
	b, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	everything := stdout + stderr + string(b)
	if strings.Contains(stderr, sandbox.ErrUnavailable.Error()) {
		t.Skipf("SKIPPED: %s", stderr)
	}
	rep := readReleaseReport(t, reportFile)
	startup := rep.find("smoke/startup")
	if startup == nil || startup.Status != "fail" {
		t.Fatalf("smoke/startup = %+v, want a failure: the service exits before serving", startup)
	}
	if !strings.Contains(stderr, "runner: process sandbox (own user, mount, PID, network") {
		t.Errorf("the report does not say the service ran in the sandbox:\n%s", stderr)
	}
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		lines = append(lines, strings.TrimSpace(l))
	}
	snooped := sandboxtest.Parse(t, lines)
	if len(snooped.Environ) == 0 {
		t.Fatalf("the service read no environment at all: the test is not looking at it: %+v", snooped)
	}
	for pid, env := range snooped.Environ {
		if strings.Contains(env, bait.Token) || strings.Contains(env, bait.Password) {
			t.Errorf("the service read the release's secrets in /proc/%s/environ", pid)
		}
	}
	if snooped.Key != "" {
		t.Error("the service read the signing key")
	}
	for name, s := range map[string]string{"the registry token": bait.Token, "the key password": bait.Password, "the key": string(key)} {
		if strings.Contains(everything, s) {
			t.Errorf("%s appears in the output or the report", name)
		}
	}
}

// TestCheckSmokesARootImageAsNonRoot: `check --smoke` of an image whose
// USER is root fails harden/user-nonroot and still runs the smoke gate, as
// 65532, never as root; the report says which identity ran.
func TestCheckSmokesARootImageAsNonRoot(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: the smoke sandbox needs linux")
	}
	_, root := checkImages(t)
	code, stdout, stderr := goImage(t, "check", "--image", root, "--smoke")
	if strings.Contains(stderr+stdout, sandbox.ErrUnavailable.Error()) {
		t.Skipf("SKIPPED: %s", stderr+stdout)
	}
	if code != 1 || !strings.Contains(stdout, "[FAIL] harden/user-nonroot") || !strings.Contains(stdout, "[PASS] smoke/sigterm-exit") {
		t.Fatalf("exit %d, want 1 with harden/user-nonroot failing and the smoke gate passing:\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, `the image's USER "0:0" is root: run as 65532:65532 instead, never as root`) {
		t.Errorf("the report does not say the service ran as 65532 instead of root:\n%s", stdout)
	}
}
