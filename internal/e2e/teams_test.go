package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/local"
	"dagger/go-image/internal/recipe"
)

// monorepoBins are testdata/monorepo's binaries, as its go-image.yaml's
// ./cmd/... gives them.
var monorepoBins = []string{"api", "ctl", "worker"}

// cliMonorepo builds testdata/monorepo's three images with the CLI's
// executor, as `go-image build --version 1.0.0` does.
func cliMonorepo(t *testing.T) map[string]v1.Hash {
	t.Helper()
	var targets []local.Target
	for _, b := range monorepoBins {
		targets = append(targets, local.Target{Options: recipe.Options{Main: "./cmd/" + b, Name: b, Version: "1.0.0"}})
	}
	imgs, err := local.BuildMany(context.Background(), local.ManyRequest{Source: testdata("monorepo"), Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v1.Hash{}
	for i, b := range monorepoBins {
		out[b] = digest(t, imgs[i])
	}
	return out
}

// verdicts are each binary's check IDs and statuses, from a report of
// several images (--format json).
func verdicts(t *testing.T, js []byte) map[string]map[string]string {
	t.Helper()
	var doc struct {
		Images []struct {
			Name   string
			Report struct{ Results []struct{ ID, Status string } }
		}
	}
	if err := json.Unmarshal(js, &doc); err != nil || len(doc.Images) == 0 {
		t.Fatalf("report of several images: %v\n%.400s", err, js)
	}
	out := map[string]map[string]string{}
	for _, img := range doc.Images {
		out[img.Name] = map[string]string{}
		for _, r := range img.Report.Results {
			out[img.Name][r.ID] = r.Status
		}
	}
	return out
}

// TestEngineMonorepo: testdata/monorepo's go-image.yaml (./cmd/..., ctl
// not smoked) drives the module and the CLI to the same three images and
// the same verdicts; tarballs hands them out as NAME.tar, release pushes
// all three with an address template, and the single gates run on each.
func TestEngineMonorepo(t *testing.T) {
	engine(t)
	t.Parallel()
	src, version, noScan := "--source=./testdata/monorepo", "--version=1.0.0", "e2e: the scan is tested on its own"
	want := cliMonorepo(t)

	dir := t.TempDir()
	mustCall(t, src, version, "tarballs", "export", "--path="+dir)
	for _, b := range monorepoBins {
		if got := digest(t, readImage(t, filepath.Join(dir, b+".tar"))); got != want[b] {
			t.Errorf("tarballs: %s.tar is %s, the CLI's %s", b, got, want[b])
		}
	}

	// The same verdicts as the CLI's release, each binary with its
	// section of go-image.yaml.
	module := verdicts(t, []byte(mustCall(t, src, version, "without-scan", "--reason="+noScan, "check", "--format=json")))
	cli := filepath.Join(t.TempDir(), "go-image")
	if out, err := exec.Command("go", "build", "-o", cli, "../../cmd/go-image").CombinedOutput(); err != nil {
		t.Fatalf("build the CLI: %v\n%s", err, out)
	}
	reg := loopbackRegistry(t)
	reportFile := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(cli, "release", "--source", testdata("monorepo"), "--version", "1.0.0", "--no-scan", noScan,
		"--address", reg+"/cli/{name}:v1", "--report", reportFile, "--format", "json")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go-image release: %v\n%s", err, lastLines(out, 30))
	}
	js, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	if byCLI := verdicts(t, js); !reflect.DeepEqual(module, byCLI) {
		t.Errorf("verdicts differ:\nmodule %v\nCLI    %v", module, byCLI)
	}
	if module["ctl"]["smoke/off"] != "skipped" || module["api"]["smoke/sigterm-drain"] != "pass" {
		t.Errorf("go-image.yaml's section for ctl: %v", module)
	}

	refs := strings.Fields(mustCall(t, src, version, "without-scan", "--reason="+noScan,
		"release", "--address="+reg+"/e2e/{name}:v1", "--registry=tcp://"+reg))
	if len(refs) != len(monorepoBins) {
		t.Fatalf("release printed %q, want one repo@sha256 line per binary", refs)
	}
	for i, b := range monorepoBins {
		if refs[i] != reg+"/e2e/"+b+"@"+want[b].String() {
			t.Errorf("release printed %s, want %s/e2e/%s@%s", refs[i], reg, b, want[b])
		}
		if got, err := pulled(reg + "/e2e/" + b + ":v1"); err != nil || got != want[b] {
			t.Errorf("%s:v1 resolves to %s (%v), want %s", b, got, err, want[b])
		}
	}

	for _, gate := range []string{"size", "upx", "harden"} {
		out := mustCall(t, src, gate)
		if !strings.Contains(out, "PASS: 3 images, 3 passed every gate") || !strings.Contains(out, "go-image report for worker") {
			t.Errorf("%s on three binaries:\n%s", gate, out)
		}
	}
	wantFail(t, call(t, src, "with-max-size", "--size=1kB", "size"), "FAIL: 3 images, 0 passed every gate", "api: size/compressed")
	wantFail(t, call(t, src, "tarball"), "tarball returns one image, but the main packages give 3 binaries (api, ctl, worker)")
	wantFail(t, call(t, src, "--main=./internal/server", "tarballs"), "is package server, not main")
	wantFail(t, call(t, src, "release", "--address="+reg+"/one:1", "--registry=tcp://"+reg), "has no {name}, but this release builds 3 binaries")
}

// TestEngineConfigArgument: a policy file handed to the constructor wins
// over the source's, and a bad one fails with its line and column.
func TestEngineConfigArgument(t *testing.T) {
	engine(t)
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "policy.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("recipe:\n  main: [./cmd/api]\ngates:\n  maxSize: 5MB\n  off:\n    smoke: \"e2e: a policy file of its own\"\n    scan: \"e2e: a policy file of its own\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("gates:\n  maxSize: 25M\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustCall(t, "--source=./testdata/monorepo", "--config="+good, "check")
	wantLines(t, out, "PASS size/compressed", "SKIP smoke/off")
	for _, s := range []string{`gates.maxSize = "5MB"  (file policy.yaml:4:12)`, "max_bytes=5000000"} {
		if !strings.Contains(out, s) {
			t.Errorf("check with --config lacks %q:\n%s", s, out)
		}
	}
	wantFail(t, call(t, "--source=./testdata/monorepo", "--config="+bad, "check"), "bad.yaml:2:12: gates.maxSize: max size")
}

// TestEngineToolchain: a workspace whose dagger.json has no SDK installs
// go-image as a toolchain by local path; `dagger check` runs the gates
// (the source defaults to the workspace) and passes on the example
// service, and fails naming the gates on a broken variant; `dagger call
// go-image release` pushes the CLI's digest.
func TestEngineToolchain(t *testing.T) {
	scanner(t)
	t.Parallel()
	work := checkout(t)
	ws := filepath.Join(work, "testdata", "toolchain")
	for _, f := range []string{"go.mod", "main.go"} {
		copyFile(t, filepath.Join(repoRoot, "testdata", "service", f), filepath.Join(ws, f), 0o644)
	}
	if r := dagger(t, ws, "toolchain", "install", "../.."); r.err != nil {
		t.Fatalf("dagger toolchain install ../..: %s", r.failed())
	}
	// The DB mirror, as a team would set it for dagger check: a default
	// of the constructor's argument in the toolchain's customizations.
	cfgPath := filepath.Join(ws, "dagger.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	tcs, _ := cfg["toolchains"].([]any)
	if len(tcs) != 1 || tcs[0].(map[string]any)["name"] != "go-image" {
		t.Fatalf("dagger.json after toolchain install: %s", raw)
	}
	tcs[0].(map[string]any)["customizations"] = []any{map[string]any{"argument": "trivyDbRepository", "default": env.dbRepo}}
	raw, _ = json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}

	list := dagger(t, ws, "check", "-l")
	if list.err != nil {
		t.Fatalf("dagger check -l: %s", list.failed())
	}
	for _, c := range []string{"go-image:size", "go-image:scan", "go-image:upx", "go-image:harden", "go-image:lint", "go-image:smoke"} {
		if !strings.Contains(list.stdout+list.stderr, c) {
			t.Errorf("dagger check -l does not list %s:\n%s", c, list.stdout)
		}
	}
	if r := dagger(t, ws, "check"); r.err != nil {
		t.Fatalf("dagger check of the example service: %s", r.failed())
	}

	reg := loopbackRegistry(t)
	addr := reg + "/e2e/toolchain:1.0.0"
	r := dagger(t, ws, "call", "go-image", "--version=1.0.0", "release", "--address="+addr, "--registry=tcp://"+reg)
	if r.err != nil {
		t.Fatalf("dagger call go-image release: %s", r.failed())
	}
	want := digest(t, cliImage(t, testdata("service"), recipe.Options{Version: "1.0.0"}, ""))
	if got, err := pulled(addr); err != nil || got != want || !strings.HasSuffix(strings.TrimSpace(r.stdout), want.String()) {
		t.Errorf("toolchain release printed %q; %s resolves to %s (%v); want %s", r.stdout, addr, got, err, want)
	}

	// The broken variant: no SIGTERM handler.
	for _, f := range []string{"go.mod", "main.go"} {
		copyFile(t, filepath.Join(repoRoot, "testdata", "k8s", "no-sigterm", f), filepath.Join(ws, f), 0o644)
	}
	r = dagger(t, ws, "check")
	if r.err == nil {
		t.Fatal("dagger check passed a service without a SIGTERM handler")
	}
	for _, s := range []string{"smoke/sigterm-drain", "lint/httpshutdown"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("the failed dagger check does not name %s:\n%s", s, lastLines([]byte(r.stderr), 60))
		}
	}
}
