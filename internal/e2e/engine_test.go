// Package e2e runs the Dagger module through a real `dagger call`, exactly as
// a user does: the module as it ships (dagger.json pins the engine), no
// override, no mock. TestMain serves the engine's docker.io mirror with
// stand-in images built here (internal/e2e/standin) and Trivy's fixture DB.
//
// The tests need a Dagger CLI whose engine answers (ci/engine/engine.sh
// start sets GOIMAGE_DAGGER and the runner host). Without one they skip with
// a reason starting "NO DAGGER ENGINE", which ci/testsum counts; in CI
// (CI=true) a missing engine fails every test instead.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/e2e/standin"
	"dagger/go-image/internal/trivy"
	"dagger/go-image/internal/trivy/trivytest"
)

const repoRoot = "../.."

// engineMark starts the skip reason of every test that needs an engine.
const engineMark = "NO DAGGER ENGINE"

var env struct {
	dagger string // the CLI
	absent string // why there is no engine, "" when there is one
	broken string // why the harness could not be set up
	trivy  string // why the Trivy stand-in is missing, "" when served
	bridge string // the engine's bridge address, which containers reach
	dbRepo string // the fixture DB as Trivy's DB artifact, on the bridge
	dbDir  string // the fixture DB as a Trivy cache directory
}

func TestMain(m *testing.M) {
	code, cleanup := setup()
	if code == 0 {
		code = m.Run()
	}
	cleanup()
	os.Exit(code)
}

// setup finds the engine and serves its mirror.
func setup() (int, func()) {
	nop := func() {}
	env.dagger = os.Getenv("GOIMAGE_DAGGER")
	if env.dagger == "" {
		var err error
		if env.dagger, err = exec.LookPath("dagger"); err != nil {
			env.absent = "no dagger CLI on PATH and GOIMAGE_DAGGER unset: run `eval \"$(sudo ci/engine/engine.sh start)\"` (ci/test.sh does)"
			return 0, nop
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, env.dagger, "core", "version").CombinedOutput(); err != nil {
		env.absent = fmt.Sprintf("%s core version failed: %v: %s", env.dagger, err, lastLines(out, 5))
		return 0, nop
	}
	mirror := os.Getenv("GOIMAGE_E2E_MIRROR")
	if mirror == "" {
		mirror = "127.0.0.1:5000"
	}
	env.bridge = os.Getenv("GOIMAGE_E2E_BRIDGE")
	addrs := []string{mirror}
	_, port, _ := strings.Cut(mirror, ":")
	if env.bridge != "" {
		addrs = append(addrs, env.bridge+":"+port)
	}
	m, err := standin.ServeMirror(addrs...)
	if err != nil {
		env.broken = fmt.Sprintf("%v (is another mirror running? stop ci/engine/mirror)", err)
		return 0, nop
	}
	dir, err := os.MkdirTemp("", "go-image-e2e-")
	if err != nil {
		env.broken = err.Error()
		return 0, func() { m.Close() }
	}
	cleanup := func() { m.Close(); os.RemoveAll(dir) }
	o := standin.MirrorOptions{GoTags: []string{"1.24-alpine", "1.26-alpine"}, AlpineTags: []string{"3.22"}, Log: os.Stderr}
	if bin, err := trivy.Find(""); err != nil {
		env.trivy = "trivy binary not found for the aquasec/trivy stand-in: " + trivytest.SkipHint
	} else if env.dbDir, err = trivytest.BuildDB(dir); err != nil {
		env.trivy = "fixture Trivy DB: " + err.Error()
	} else {
		o.Trivy, o.TrivyTag, o.TrivyDBCache = bin, strings.TrimPrefix(trivy.PinnedVersion, "v"), env.dbDir
		env.dbRepo = env.bridge + ":" + port + "/" + standin.TrivyDBRepository + ":" + standin.TrivyDBTag
	}
	if err := m.Fill(context.Background(), o); err != nil {
		env.broken = "fill the mirror: " + err.Error()
		return 0, cleanup
	}
	// Load the module once, before the tests run in parallel: its first
	// load (SDK codegen and compile in the engine) then happens in one
	// session, and every test's time is its own.
	start := time.Now()
	wctx, wcancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer wcancel()
	load := exec.CommandContext(wctx, env.dagger, "--progress=plain", "functions", "-m", ".")
	load.Dir = repoRoot
	if out, err := load.CombinedOutput(); err != nil {
		env.broken = fmt.Sprintf("dagger functions (loading the module): %v\n%s", err, lastLines(out, 30))
		return 0, cleanup
	}
	fmt.Fprintf(os.Stderr, "e2e: module loaded in %s\n", time.Since(start).Round(time.Second))
	return 0, cleanup
}

// engine fails or skips t when there is no engine to call.
func engine(t *testing.T) {
	t.Helper()
	switch {
	case env.broken != "":
		t.Fatalf("engine test harness: %s", env.broken)
	case env.absent != "" && os.Getenv("CI") == "true":
		t.Fatalf("Dagger engine missing in CI (CI=true), which must run the engine tests: %s", env.absent)
	case env.absent != "":
		t.Skipf("%s: %s", engineMark, env.absent)
	}
}

// scanner fails or skips t when the Trivy stand-in is not served.
func scanner(t *testing.T) {
	t.Helper()
	engine(t)
	switch {
	case env.trivy != "" && os.Getenv("CI") == "true":
		t.Fatalf("Trivy stand-in missing in CI: %s", env.trivy)
	case env.trivy != "":
		t.Skipf("SKIP (integration): %s", env.trivy)
	case env.bridge == "":
		t.Skip("SKIP (integration): GOIMAGE_E2E_BRIDGE unset: Trivy's containers reach the DB mirror on the engine's bridge address")
	}
}

// result is one dagger invocation.
type result struct {
	stdout, stderr string
	err            error
}

// failed says why the call failed, with the end of its output.
func (r result) failed() string {
	if r.err == nil {
		return ""
	}
	return fmt.Sprintf("%v\n%s", r.err, lastLines([]byte(r.stderr), 40))
}

// dagger runs the dagger CLI in dir (the repository root when ""), with
// args after `--progress=plain`.
func dagger(t *testing.T, dir string, args ...string) result {
	t.Helper()
	engine(t)
	if dir == "" {
		dir = repoRoot
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.dagger, append([]string{"--progress=plain"}, args...)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("dagger %s: %s", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond))
	return result{stdout.String(), stderr.String(), err}
}

// call runs `dagger call` of the module at the repository root, from the
// repository root, so paths are written as in README.
func call(t *testing.T, args ...string) result {
	t.Helper()
	return dagger(t, "", append([]string{"call", "-m", "."}, args...)...)
}

// mustCall is call that fails the test when the call fails.
func mustCall(t *testing.T, args ...string) string {
	t.Helper()
	r := call(t, args...)
	if r.err != nil {
		t.Fatalf("dagger call %s: %s", strings.Join(args, " "), r.failed())
	}
	return r.stdout
}

// wantFail checks that the call failed and that its output says each of
// the given things.
func wantFail(t *testing.T, r result, says ...string) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("the call succeeded, want a failure saying %q:\n%s", says, r.stdout)
	}
	for _, s := range says {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("the failure does not say %q:\n%s", s, lastLines([]byte(r.stderr), 40))
		}
	}
}

// tmpPath is a path for an exported file, absolute (calls run elsewhere).
func tmpPath(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(t.TempDir(), name)
}

// loopbackRegistry serves a registry on this machine's loopback, where the
// module reaches it only through a service tunnel; it returns host:port.
func loopbackRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// pulled returns the digest ref resolves to, or the error.
func pulled(ref string) (v1.Hash, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	d, err := remote.Head(r)
	if err != nil {
		return v1.Hash{}, err
	}
	return d.Digest, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// thisFile locates testdata from this file, for in-process CLI builds.
func testdata(elem ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", "..", "testdata"}, elem...)...)
}
