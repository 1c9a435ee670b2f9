package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/imagefile"
)

const monorepo = "../../testdata/monorepo"

// copyTree copies testdata/monorepo into a temporary directory, with
// extra files (a go-image.yaml of the test's own) written over it.
func copyTree(t *testing.T, src string, extra map[string]string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for n, data := range extra {
		if err := os.WriteFile(filepath.Join(dst, n), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestReleaseMonorepo: go-image.yaml's ./cmd/... gives three binaries,
// released in one call with an address template; each is pushed with the
// digest it has built alone, the report of each and a summary table are
// shown, and the report says where each choice came from.
func TestReleaseMonorepo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: the daemonless smoke runner runs linux images as local processes")
	}
	noDockerConfig(t)
	host := testRegistry(t, nil)
	reportFile := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := goImage(t, "release", "--source", monorepo, "--version", "1.0.0", "--platform", "linux/"+runtime.GOARCH,
		"--no-scan", "trivy tested in TestReleaseEveryGate", "--address", host+"/acme/{name}:v1", "--report", reportFile, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("stdout = %q, want one repo@sha256 line per binary", stdout)
	}
	for i, bin := range []string{"api", "ctl", "worker"} {
		d, err := name.NewDigest(lines[i])
		if err != nil || d.Context().String() != host+"/acme/"+bin {
			t.Fatalf("line %d = %q, want %s/acme/%s@sha256:…", i, lines[i], host, bin)
		}
		desc, err := remote.Head(mustTag(t, host+"/acme/"+bin+":v1"))
		if err != nil || desc.Digest.String() != d.DigestStr() {
			t.Errorf("%s:v1 -> %v (%v), want %s", bin, desc, err, d.DigestStr())
		}
		// The digest of the binary built alone, with the same choices.
		out := filepath.Join(t.TempDir(), bin+".tar")
		code, single, serr := goImage(t, "build", "--source", monorepo, "--main", "./cmd/"+bin, "--version", "1.0.0", "--platform", "linux/"+runtime.GOARCH, "--output", out)
		if code != 0 || strings.TrimSpace(single) != d.DigestStr() {
			t.Errorf("%s built alone: %s (exit %d %s), released with the others: %s", bin, single, code, serr, d.DigestStr())
		}
	}
	for _, want := range []string{
		"compile ./cmd/api ./cmd/ctl ./cmd/worker for linux/" + runtime.GOARCH,
		"[ctl] go-image: gates on",
		"binary  digest",
		"PASS: 3 images, 3 passed every gate, 0 failed",
		`gates.off.smoke = "a command-line tool that exits, not a service"  (file ` + monorepo + "/go-image.yaml:12:16, section binaries.ctl)",
		`gates.maxSize = "10MB"  (file ` + monorepo + "/go-image.yaml:7:12)",
		`gates.off.scan = "trivy tested in TestReleaseEveryGate"  (flag --no-scan)`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	var rep struct {
		Passed bool
		Images []struct {
			Name, Digest string
			Passed       bool
			Report       struct {
				Results []struct{ ID, Status string }
			}
		}
	}
	b, err := os.ReadFile(reportFile)
	if err != nil || json.Unmarshal(b, &rep) != nil || !rep.Passed || len(rep.Images) != 3 {
		t.Fatalf("report file: %.300s (%v)", b, err)
	}
	for _, res := range rep.Images[1].Report.Results {
		if res.ID == "smoke/off" && res.Status != "skipped" {
			t.Errorf("ctl's smoke: %+v", res)
		}
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// TestReleaseMonorepoAllOrNothing: one binary over its budget (ctl's own
// section of go-image.yaml) blocks the release of all three.
func TestReleaseMonorepoAllOrNothing(t *testing.T) {
	noDockerConfig(t)
	host := testRegistry(t, nil)
	src := copyTree(t, monorepo, map[string]string{"go-image.yaml": "recipe:\n  main: [./cmd/...]\nbinaries:\n  ctl:\n    gates:\n      maxSize: 1kB\n"})
	code, stdout, stderr := goImage(t, "release", "--source", src, "--no-scan", "x", "--no-smoke", "size under test", "--no-lint", "size under test",
		"--address", host+"/acme/{name}:v1")
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d stdout %q, want 1 and nothing\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"release of 3 binaries stopped, nothing pushed: 1 did not pass", "ctl: release blocked", "FAIL: 3 images, 2 passed every gate, 1 failed"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	reg, _ := name.NewRegistry(host)
	if repos, err := remote.Catalog(context.Background(), reg); err != nil || len(repos) != 0 {
		t.Errorf("registry holds %v (%v) after a blocked release", repos, err)
	}
}

func TestBuildMonorepo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images") + "/"
	code, stdout, stderr := goImage(t, "build", "--source", monorepo, "--output", dir, "--main", "./cmd/api", "--main", "./cmd/worker")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "api sha256:") || !strings.HasPrefix(lines[1], "worker sha256:") {
		t.Fatalf("stdout = %q, want NAME DIGEST per binary", stdout)
	}
	for _, bin := range []string{"api", "worker"} {
		img, err := imagefile.Read(filepath.Join(dir, bin+".tar"))
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		if cf.Config.Labels["org.opencontainers.image.title"] != bin {
			t.Errorf("%s.tar holds %v", bin, cf.Config.Labels)
		}
	}
}

// TestMonorepoUsage: each bad input says what to do, before anything builds.
func TestMonorepoUsage(t *testing.T) {
	noDockerConfig(t)
	bad := copyTree(t, monorepo, map[string]string{"go-image.yaml": "gates:\n  maxSize: 25M\n"})
	typo := copyTree(t, monorepo, map[string]string{"go-image.yaml": "recipe:\n  main: [./cmd/...]\nbinaries:\n  cli:\n    gates: {}\n"})
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"one address for several binaries", []string{"release", "--source", monorepo, "--address", "r.example/acme/api:1"}, 2, "has no {name}, but this release builds 3 binaries (api, ctl, worker)"},
		{"an address for a binary not built", []string{"release", "--source", monorepo, "--address", "r.example/{name}:1", "--address", "cli=r.example/cli:1"}, 2, `is for binary "cli", which this release does not build`},
		{"a name for several binaries", []string{"build", "--source", monorepo, "--output", "x/", "--name", "svc"}, 2, `--name: name "svc" given for 3 binaries`},
		{"a library", []string{"build", "--source", monorepo, "--output", "x.tar", "--main", "./internal/server"}, 1, "is package server, not main"},
		{"a pattern without mains", []string{"build", "--source", monorepo, "--output", "x/", "--main", "./internal/..."}, 1, "matches no main package"},
		{"a main outside the source", []string{"build", "--source", monorepo, "--output", "x/", "--main", "../service"}, 2, "--main: "},
		{"one file for several tarballs", []string{"build", "--source", monorepo, "--output", filepath.Join(t.TempDir(), "x.tar")}, 2, "--output is a directory that receives NAME.tar"},
		{"a bad policy file", []string{"build", "--source", bad, "--output", "x/"}, 1, "go-image.yaml:2:12: gates.maxSize: max size"},
		{"a section for a binary not built", []string{"config", "--source", typo}, 1, "go-image.yaml:4:3: binaries.cli: no main package of this call builds a binary named cli (it builds api, ctl, worker)"},
		{"a missing --config", []string{"config", "--source", monorepo, "--config", "nope.yaml"}, 1, "--config: open"},
		{"one SBOM file for several", []string{"release", "--source", monorepo, "--address", "r.example/{name}:1", "--sbom", filepath.Join(t.TempDir(), "s.json")}, 2, "--sbom FILE writes one SBOM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := goImage(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, stderr)
			}
		})
	}
}

func TestConfigCommand(t *testing.T) {
	code, stdout, stderr := goImage(t, "config", "--source", monorepo, "--upx", "warn", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var out struct {
		ConfigPath, ConfigDigest string
		Binaries                 []struct {
			Name, Main string
			Settings   []struct {
				Field, Value string
				From         struct{ Kind, Where string }
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || len(out.Binaries) != 3 || !strings.HasPrefix(out.ConfigDigest, "sha256:") {
		t.Fatalf("config --format json: %v\n%s", err, stdout)
	}
	from := map[string]string{}
	for _, s := range out.Binaries[1].Settings {
		from[s.Field] = s.From.Kind + " " + s.From.Where
	}
	for field, want := range map[string]string{
		"gates.upx":           "flag --upx",
		"gates.maxSize":       "file " + monorepo + "/go-image.yaml:7:12",
		"gates.off.smoke":     "file " + monorepo + "/go-image.yaml:12:16, section binaries.ctl",
		"gates.scan.severity": "default ",
	} {
		if from[field] != want {
			t.Errorf("ctl: %s from %q, want %q", field, from[field], want)
		}
	}
	code, stdout, _ = goImage(t, "config", "--source", monorepo, "--main", "./cmd/api")
	if code != 0 || !strings.Contains(stdout, "# binary api (./cmd/api)") || strings.Contains(stdout, "# binary ctl") || !strings.Contains(stdout, `recipe.main`) {
		t.Errorf("config --main ./cmd/api:\n%s", stdout)
	}
	code, stdout, _ = goImage(t, "config", "--schema")
	if code != 0 || !strings.Contains(stdout, `"$id": "https://go-image.dev/schema/go-image.schema.json"`) {
		t.Errorf("config --schema: exit %d\n%.200s", code, stdout)
	}
}

// TestConfigOnImages: check, scan, smoke and lint read the policy file
// too: check its top level and the section of the binary --binary names
// (never the image's title label's choice), lint the source's go-image.yaml.
func TestConfigOnImages(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := goImage(t, "build", "--source", monorepo, "--output", dir+"/"); code != 0 {
		t.Fatalf("build: %s", stderr)
	}
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte("gates:\n  maxSize: 9MB\nbinaries:\n  ctl:\n    gates:\n      maxSize: 2MB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for bin, want := range map[string]string{"api": "max_bytes=9000000", "ctl": "max_bytes=2000000"} {
		code, stdout, stderr := goImage(t, "check", "--image", filepath.Join(dir, bin+".tar"), "--config", policy, "--binary", bin)
		if code != 0 || !strings.Contains(stdout, want) || !strings.Contains(stdout, "(file "+policy) {
			t.Errorf("check %s.tar --config --binary %s: exit %d\n%s%s", bin, bin, code, stdout, stderr)
		}
	}
	// The image's title label (ctl's image says "ctl") does not choose
	// its section: without --binary, a file with sections is refused, in
	// every command that reads an image.
	for _, cmd := range [][]string{{"check"}, {"scan", "--trivy", "/nonexistent"}, {"smoke"}} {
		args := append(cmd, "--image", filepath.Join(dir, "ctl.tar"), "--config", policy)
		code, _, stderr := goImage(t, args...)
		if code != 2 || !strings.Contains(stderr, "--binary NAME") || !strings.Contains(stderr, `title label says "ctl"`) {
			t.Errorf("%s --config without --binary: exit %d\n%s", cmd[0], code, stderr)
		}
	}
	if code, _, stderr := goImage(t, "check", "--image", filepath.Join(dir, "api.tar"), "--binary", "api"); code != 2 || !strings.Contains(stderr, "give the file with --config") {
		t.Errorf("--binary without --config: exit %d\n%s", code, stderr)
	}
	code, stdout, _ := goImage(t, "check", "--image", filepath.Join(dir, "api.tar"), "--config", policy, "--binary", "api", "--max-size", "8MB")
	if code != 0 || !strings.Contains(stdout, "max_bytes=8000000") || !strings.Contains(stdout, "(flag --max-size)") {
		t.Errorf("a flag over the file:\n%s", stdout)
	}
	code, _, stderr := goImage(t, "check", "--image", filepath.Join(dir, "api.tar"), "--config", filepath.Join(monorepo, "cmd", "api", "main.go"))
	if code != 1 || !strings.Contains(stderr, "main.go:1:1: want a mapping") {
		t.Errorf("check with a file that is not a policy: exit %d\n%s", code, stderr)
	}

	// lint reads the source's go-image.yaml: httpshutdown warned there.
	src := copyTree(t, "../../testdata/k8s/shutdown-no-timeout", map[string]string{"go-image.yaml": "gates:\n  lint:\n    policy: httpshutdown=warn\n"})
	code, stdout, stderr = goImage(t, "lint", "--source", src)
	if code != 0 || !strings.Contains(stdout, "[WARN] lint/httpshutdown") {
		t.Errorf("lint with the source's go-image.yaml: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, _ := goImage(t, "lint", "--source", src, "--lint-policy", "httpshutdown=deny"); code != 1 {
		t.Errorf("--lint-policy over the file: exit %d, want 1", code)
	}
}
