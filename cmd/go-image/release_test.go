package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/sbom"
	"dagger/go-image/internal/trivy/trivytest"
)

// TestMain builds the fixture Trivy DB at most once for the package. It is
// also the --build-cache program: the go command runs os.Executable(), this
// test binary, as `cacheprog`, as it runs the go-image binary in production.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "cacheprog" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(trivytest.Main(m))
}

type releaseReport struct {
	Passed  bool
	Results []struct {
		Gate, ID, Status, Message string
		Metrics                   map[string]float64
	}
}

func (r *releaseReport) find(id string) *struct {
	Gate, ID, Status, Message string
	Metrics                   map[string]float64
} {
	for i := range r.Results {
		if r.Results[i].ID == id {
			return &r.Results[i]
		}
	}
	return nil
}

func readReleaseReport(t *testing.T, path string) *releaseReport {
	t.Helper()
	var rep releaseReport
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &rep) != nil || len(rep.Results) == 0 {
		t.Fatalf("report file: %s (%v)", b, err)
	}
	return &rep
}

// checkGateOrder: the report holds every gate, in the standard order.
func checkGateOrder(t *testing.T, rep *releaseReport, want string) {
	t.Helper()
	var order []string
	for _, res := range rep.Results {
		if len(order) == 0 || order[len(order)-1] != res.Gate {
			order = append(order, res.Gate)
		}
	}
	if got := strings.Join(order, " "); got != want {
		t.Errorf("gates in the report = %s, want %s", got, want)
	}
}

// checkSmokeMeasured: the smoke gate ran the image and measured start-up
// and shutdown.
func checkSmokeMeasured(t *testing.T, rep *releaseReport) {
	t.Helper()
	for id, metric := range map[string]string{"smoke/startup": "startup_seconds", "smoke/sigterm-exit": "shutdown_seconds"} {
		res := rep.find(id)
		if res == nil || res.Status != "pass" || !(res.Metrics[metric] > 0) {
			t.Errorf("%s = %+v, want a pass with %s measured", id, res, metric)
		}
	}
}

func testRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// noDockerConfig points the default keychain at an empty directory, so the
// test never reads (or depends on) the machine's docker credentials.
func noDockerConfig(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
}

func TestRelease(t *testing.T) {
	noDockerConfig(t)
	host := testRegistry(t, nil)
	dir := t.TempDir()
	sbomFile, reportFile := filepath.Join(dir, "sbom.json"), filepath.Join(dir, "report.json")
	code, stdout, stderr := goImage(t, "release", "--source", "../../testdata/service", "--version", "0.1.0",
		"--platform", "linux/"+runtime.GOARCH, "--no-scan", "trivy tested in TestReleaseEveryGate",
		"--address", host+"/acme/service:0.1.0", "--address", host+"/acme/service:latest",
		"--sbom", sbomFile, "--attach-sbom", "--report", reportFile, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	ref := strings.TrimSpace(stdout)
	d, err := name.NewDigest(ref)
	if err != nil || d.Context().String() != host+"/acme/service" {
		t.Fatalf("stdout = %q, want %s/acme/service@sha256:… (%v)", stdout, host, err)
	}
	for _, tag := range []string{"0.1.0", "latest"} {
		tr, err := name.NewTag(host + "/acme/service:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Head(tr)
		if err != nil || desc.Digest.String() != d.DigestStr() {
			t.Errorf("%s -> %v (%v), want %s", tag, desc, err, d.DigestStr())
		}
	}
	rep := readReleaseReport(t, reportFile)
	if !rep.Passed {
		t.Errorf("report does not pass: %+v", rep)
	}
	checkGateOrder(t, rep, "size scan upx harden lint smoke")
	checkSmokeMeasured(t, rep)
	if res := rep.find("scan/off"); res == nil || res.Status != "skipped" || !strings.Contains(res.Message, "trivy tested in TestReleaseEveryGate") {
		t.Errorf("scan switched off: result %+v, want skipped with the reason", res)
	}
	var doc sbom.SPDXDocument
	b, err := os.ReadFile(sbomFile)
	if err != nil || json.Unmarshal(b, &doc) != nil || doc.SPDXVersion != "SPDX-2.3" || len(doc.Packages) < 2 || doc.Packages[1].Name != "example.com/service" {
		t.Errorf("sbom file, SPDX by default: %.200s (%v)", b, err)
	}
	refs, err := remote.Referrers(d)
	if err != nil {
		t.Fatal(err)
	}
	if im, _ := refs.IndexManifest(); len(im.Manifests) != 1 {
		t.Errorf("referrers = %+v, want the SBOM", im.Manifests)
	}
	for _, want := range []string{"compile . for linux/amd64", "PASS", "released " + d.DigestStr()} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestReleaseBlockedByGate(t *testing.T) {
	noDockerConfig(t)
	host := testRegistry(t, nil)
	code, stdout, stderr := goImage(t, "release", "--source", "../../testdata/service", "--no-scan", "size gate under test",
		"--address", host+"/acme/service:1", "--max-size", "1kB")
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d stdout %q, want 1 and nothing", code, stdout)
	}
	for _, want := range []string{"nothing pushed", "size/compressed", "[FAIL]"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	repos, err := remote.Catalog(context.Background(), reg)
	if err != nil || len(repos) != 0 {
		t.Errorf("registry holds %v (%v) after a blocked release", repos, err)
	}
}

// TestReleaseSecret: the password reaches the registry, and nothing else —
// not stdout, stderr, the report, the SBOM, the image's layers or config.
func TestReleaseSecret(t *testing.T) {
	noDockerConfig(t)
	const secret = "tok-9f8e7d6c5b4a-never-print"
	host := testRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != secret {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	t.Setenv("REGISTRY_TOKEN", secret)
	dir := t.TempDir()
	sbomFile, reportFile := filepath.Join(dir, "sbom.json"), filepath.Join(dir, "report.md")
	var everything strings.Builder

	off := []string{"--no-scan", "not under test", "--no-smoke", "not under test"}
	code, stdout, stderr := goImage(t, append([]string{"release", "--source", "../../testdata/service",
		"--address", host + "/acme/service:1", "--username", "intruder", "--password-env", "REGISTRY_TOKEN"}, off...)...)
	everything.WriteString(stdout + stderr)
	if code != 1 || !strings.Contains(stderr, "401") || !strings.Contains(stderr, `username "intruder"`) || !strings.Contains(stderr, "$REGISTRY_TOKEN") {
		t.Errorf("wrong username: exit %d, want a 401 naming the username and the variable:\n%s", code, stderr)
	}

	code, stdout, stderr = goImage(t, append([]string{"release", "--source", "../../testdata/service",
		"--address", host + "/acme/service:1", "--username", "ci", "--password-env", "REGISTRY_TOKEN",
		"--sbom", sbomFile, "--attach-sbom", "--report", reportFile, "--format", "markdown"}, off...)...)
	everything.WriteString(stdout + stderr)
	if code != 0 {
		t.Fatalf("right credentials: exit %d\n%s", code, stderr)
	}
	for _, f := range []string{sbomFile, reportFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		everything.Write(b)
	}
	// Pull the image back with the credentials and read every byte of it.
	d, err := name.NewDigest(strings.TrimSpace(stdout))
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(d, remote.WithAuth(&authn.Basic{Username: "ci", Password: secret}))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.RawConfigFile()
	man, _ := img.RawManifest()
	everything.Write(cfg)
	everything.Write(man)
	layers, _ := img.Layers()
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		everything.Write(b)
	}
	if everything.Len() < 1000 {
		t.Fatalf("only %d bytes inspected: the test is not looking at the image", everything.Len())
	}
	if strings.Contains(everything.String(), secret) {
		t.Error("the password appears in the output, report, SBOM or image")
	}
}

func TestReleaseUsage(t *testing.T) {
	noDockerConfig(t)
	t.Setenv("EMPTY_TOKEN", "")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no address", nil, "--address is required"},
		{"bad address", []string{"--address", "acme/api"}, "REGISTRY/REPO:TAG"},
		{"username without password", []string{"--address", "r.example/a:b", "--username", "u"}, "without --password-env"},
		{"password without username", []string{"--address", "r.example/a:b", "--password-env", "T"}, "without --username"},
		{"password value instead of name", []string{"--address", "r.example/a:b", "--username", "u", "--password-env", "$TOKEN"}, "NAME of an environment variable"},
		{"empty password", []string{"--address", "r.example/a:b", "--username", "u", "--password-env", "EMPTY_TOKEN"}, "unset or empty"},
		{"bad platform", []string{"--address", "r.example/a:b", "--platform", "linux/amd64,windows/amd64"}, "only linux"},
		{"bad size", []string{"--address", "r.example/a:b", "--max-size", "25M"}, "size"},
		{"bad upx", []string{"--address", "r.example/a:b", "--upx", "maybe"}, "deny, warn or allow"},
		{"bad format", []string{"--address", "r.example/a:b", "--format", "xml"}, "--format"},
		{"gate off without a reason", []string{"--address", "r.example/a:b", "--no-smoke", " "}, "give the reason"},
		{"bad smoke flag", []string{"--address", "r.example/a:b", "--health-path", "healthz"}, "must start with /"},
		{"bad severity", []string{"--address", "r.example/a:b", "--severity", "SEVERE"}, `severity "SEVERE"`},
		{"bad sbom format", []string{"--address", "r.example/a:b", "--sbom-format", "swid"}, "use spdx"},
		{"password value instead of name for the key", []string{"--address", "r.example/a:b", "--sign-key", "k", "--sign-password-env", "$PW"}, "NAME of an environment variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := goImage(t, append([]string{"release"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, want 2 with %q:\n%s", code, tt.wantErr, stderr)
			}
		})
	}
}

// TestReleaseEveryGate: a release with every gate on (scan against the
// fixture DB) pushes, and its report shows each gate's verdict.
func TestReleaseEveryGate(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: the daemonless smoke runner runs linux images as local processes")
	}
	bin := trivytest.Binary(t)
	t.Logf("trivy: %s", trivytest.Version(bin))
	noDockerConfig(t)
	host := testRegistry(t, nil)
	reportFile := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := goImage(t, "release", "--source", "../../testdata/service", "--platform", "linux/"+runtime.GOARCH,
		"--trivy", bin, "--cache-dir", trivytest.CacheDir(t),
		"--address", host+"/acme/service:1", "--report", reportFile, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if _, err := name.NewDigest(strings.TrimSpace(stdout)); err != nil {
		t.Errorf("stdout = %q, want the pushed digest reference", stdout)
	}
	rep := readReleaseReport(t, reportFile)
	checkGateOrder(t, rep, "size scan upx harden lint smoke")
	checkSmokeMeasured(t, rep)
	for _, res := range rep.Results {
		if res.Status == "skipped" || res.Status == "fail" {
			t.Errorf("%s = %s (%s): every gate should have run and passed", res.ID, res.Status, res.Message)
		}
	}
}

// TestReleaseMissingTrivy: scan is on by default; without a scanner the
// release stops with the fix, and nothing is pushed.
func TestReleaseMissingTrivy(t *testing.T) {
	noDockerConfig(t)
	host := testRegistry(t, nil)
	code, stdout, stderr := goImage(t, "release", "--source", "../../testdata/service",
		"--trivy", filepath.Join(t.TempDir(), "trivy"), "--address", host+"/acme/service:1")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "scan gate") || !strings.Contains(stderr, "--no-scan REASON") {
		t.Errorf("exit %d stdout %q, want 1, nothing, and the fix:\n%s", code, stdout, stderr)
	}
	assertEmpty(t, host)
}

// TestReleaseRefusedBySmoke: a service without a SIGTERM handler is refused
// by the smoke gate alone (lint, which also catches it, is off), and
// nothing is pushed.
func TestReleaseRefusedBySmoke(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: the daemonless smoke runner runs linux images as local processes")
	}
	noDockerConfig(t)
	host := testRegistry(t, nil)
	reportFile := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := goImage(t, "release", "--source", "../../testdata/k8s/no-sigterm", "--platform", "linux/"+runtime.GOARCH,
		"--no-scan", "not under test", "--no-lint", "smoke under test alone",
		"--address", host+"/acme/no-sigterm:1", "--report", reportFile, "--format", "json")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "nothing pushed") {
		t.Fatalf("exit %d stdout %q, want 1 and nothing pushed:\n%s", code, stdout, stderr)
	}
	rep := readReleaseReport(t, reportFile)
	var failed []string
	for _, res := range rep.Results {
		if res.Status == "fail" {
			failed = append(failed, res.ID)
			if res.Gate != "smoke" {
				t.Errorf("%s failed: only smoke should refuse this image (%s)", res.ID, res.Message)
			}
		}
	}
	if res := rep.find("smoke/sigterm-drain"); res == nil || res.Status != "fail" {
		t.Errorf("smoke/sigterm-drain = %+v, want fail (failed: %v)", res, failed)
	}
	if res := rep.find("lint/off"); res == nil || res.Status != "skipped" || !strings.Contains(res.Message, "smoke under test alone") {
		t.Errorf("lint/off = %+v, want skipped with the reason", res)
	}
	assertEmpty(t, host)
}

func assertEmpty(t *testing.T, host string) {
	t.Helper()
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	repos, err := remote.Catalog(context.Background(), reg)
	if err != nil || len(repos) != 0 {
		t.Errorf("registry holds %v (%v) after a refused release", repos, err)
	}
}
