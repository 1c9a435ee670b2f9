package smoke

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"dagger/go-image/internal/local"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
)

// images builds each test service once per test binary.
var images = struct {
	sync.Mutex
	m map[string]v1.Image
}{m: map[string]v1.Image{}}

func image(t *testing.T, dir string) v1.Image {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	if img, ok := images.m[dir]; ok {
		return img
	}
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "..", "testdata", dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	img, err := local.Build(ctx, local.Request{Source: src, Options: recipe.Options{Platform: "linux/" + runtime.GOARCH}})
	if err != nil {
		t.Fatalf("build %s: %v", dir, err)
	}
	images.m[dir] = img
	return img
}

// statuses maps check IDs to statuses.
func statuses(rs []report.Result) map[string]report.Status {
	m := map[string]report.Status{}
	for _, r := range rs {
		m[r.ID] = r.Status
	}
	return m
}

// wantStatuses checks that exactly the checks in fail failed and every
// other smoke check passed.
func wantStatuses(t *testing.T, rs []report.Result, fail []string) {
	t.Helper()
	got := statuses(rs)
	for _, id := range allChecks {
		want := report.Pass
		if slices.Contains(fail, id) {
			want = report.Fail
		}
		if got["smoke/"+id] != want {
			t.Errorf("%s = %q, want %q", id, got["smoke/"+id], want)
		}
	}
}

var allChecks = []string{"startup", "health-independent", "business-port", "readiness", "sigterm-drain", "sigterm-readiness", "sigterm-exit"}

func TestSmokeGateOnServices(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: the daemonless runner runs linux images as local processes; this is " + runtime.GOOS)
	}
	tests := []struct {
		dir    string
		runner ProcessRunner
		// fail lists the checks that must fail; every other check must pass.
		fail []string
		// advice must appear in the sigterm-drain message, if set.
		advice string
	}{
		{dir: "service"},
		{dir: "k8s/health-on-business-port", fail: []string{"health-independent"}},
		{dir: "k8s/no-sigterm", fail: []string{"sigterm-drain", "sigterm-readiness", "sigterm-exit"}},
		{dir: "k8s/readiness-always-200", fail: []string{"readiness", "sigterm-readiness"}},
		// Handles SIGTERM and exits 0 promptly, but main returns while
		// Shutdown drains: the advice is to wait, not to add a handler.
		{dir: "k8s/main-returns-before-drain", fail: []string{"sigterm-drain"}, advice: "wait for Shutdown to return before main exits"},
		// An unbounded Shutdown drains a finishing request just like a
		// bounded one: not observable here, lint's job.
		{dir: "k8s/shutdown-no-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			img := image(t, tt.dir)
			t.Parallel()
			g := Gate{Runner: tt.runner, Config: DefaultConfig()}
			rs, err := g.Check(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			wantStatuses(t, rs, tt.fail)
			for _, r := range rs {
				if r.ID == "smoke/sigterm-drain" && tt.advice != "" && !strings.Contains(r.Message, tt.advice) {
					t.Errorf("sigterm-drain advice %q, want it to say %q", r.Message, tt.advice)
				}
				t.Logf("[%s] %s: %s %v", r.Status, r.ID, r.Message, r.Metrics)
				if r.ID == "smoke/startup" && r.Status == report.Pass && !(r.Metrics["startup_seconds"] > 0) {
					t.Errorf("startup passed without a measured start-up time: %v", r.Metrics)
				}
				if r.ID == "smoke/sigterm-exit" && r.Status == report.Pass && !(r.Metrics["shutdown_seconds"] > 0) {
					t.Errorf("sigterm-exit passed without a measured shutdown time: %v", r.Metrics)
				}
			}
			if !strings.Contains(strings.Join(rs[0].Details, "\n"), "runner: process sandbox (own user, mount, PID, network") {
				t.Errorf("%s does not say which runner ran it, and how: %v", rs[0].ID, rs[0].Details)
			}
		})
	}
}

func TestSmokeStartupFailsWhenProbePortUnknown(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: needs linux")
	}
	// The probe port is fixed (no variable declared) at a port the service
	// never listens on: start-up must fail and nothing else may pass.
	cfg := DefaultConfig()
	cfg.ProbeEnv = ""
	cfg.ProbePort = 1
	cfg.StartupBudget = time.Second
	rs, err := Gate{Config: cfg}.Check(context.Background(), image(t, "service"))
	if err != nil {
		t.Fatal(err)
	}
	got := statuses(rs)
	if got["smoke/startup"] != report.Fail {
		t.Fatalf("startup = %q, want fail: %+v", got["smoke/startup"], rs[0])
	}
	for _, id := range allChecks[1:] {
		if got["smoke/"+id] != report.Skipped {
			t.Errorf("%s = %q, want skipped after a failed start-up", id, got["smoke/"+id])
		}
	}
}

func TestEvaluate(t *testing.T) {
	cfg := DefaultConfig()
	good := Observations{
		Runner: "test", BusinessAddr: "127.0.0.1:8080", ProbeAddr: "127.0.0.1:8081",
		Healthy: true, StartupSeconds: 0.1, ProbeHealthBody: "ok\n",
		Ready: true, ReadySeconds: 0.1, BusinessUp: true,
		BusinessHealthStatus: 200, BusinessHealthBody: "hello\n", BusinessUnknownStatus: 200,
		TermSent: true, InFlight: true, InFlightStatus: 200, ReadyAfterTerm: []string{"200", "503", "refused"},
		Exited: true, Exit: Exit{Code: 0}, ShutdownSeconds: 2,
	}
	noReady := cfg
	noReady.ReadyPath = ""
	samePort := cfg
	samePort.ProbePort = cfg.BusinessPort
	tests := []struct {
		name   string
		cfg    Config
		mutate func(*Observations)
		want   map[string]report.Status // checks not named must pass
	}{
		{"good service", cfg, func(*Observations) {}, nil},
		{"catch-all business mux is not health", cfg, func(o *Observations) { o.BusinessHealthStatus = 200 }, nil},
		{"business mux serves health", cfg, func(o *Observations) { o.BusinessHealthBody, o.BusinessUnknownStatus = "ok\n", 404 },
			map[string]report.Status{"health-independent": report.Fail}},
		{"business echoes probe body", cfg, func(o *Observations) { o.BusinessHealthBody = "ok\n" },
			map[string]report.Status{"health-independent": report.Fail}},
		{"probe port is business port", samePort, func(*Observations) {}, map[string]report.Status{"health-independent": report.Fail}},
		// A request that got no answer says nothing about what the
		// business mux serves: never a pass.
		{"business port gave no answer", cfg, func(o *Observations) {
			o.BusinessHealthStatus, o.BusinessHealthBody, o.BusinessHealthErr = 0, "", "context deadline exceeded"
		}, map[string]report.Status{"health-independent": report.Fail}},
		{"never healthy", cfg, func(o *Observations) { o.Healthy = false; o.HealthLast = "refused" }, map[string]report.Status{
			"startup": report.Fail, "health-independent": report.Skipped, "business-port": report.Skipped, "readiness": report.Skipped,
			"sigterm-drain": report.Skipped, "sigterm-readiness": report.Skipped, "sigterm-exit": report.Skipped}},
		{"crashed at start", cfg, func(o *Observations) { o.Healthy = false; o.ExitedEarly = &Exit{Code: 1} }, map[string]report.Status{
			"startup": report.Fail, "health-independent": report.Skipped, "business-port": report.Skipped, "readiness": report.Skipped,
			"sigterm-drain": report.Skipped, "sigterm-readiness": report.Skipped, "sigterm-exit": report.Skipped}},
		{"business port closed", cfg, func(o *Observations) { o.BusinessUp = false; o.InFlight = false },
			map[string]report.Status{"business-port": report.Fail, "health-independent": report.Skipped, "sigterm-drain": report.Fail}},
		{"ready before business", cfg, func(o *Observations) { o.ReadyBeforeBusiness = true }, map[string]report.Status{"readiness": report.Fail}},
		{"never ready", cfg, func(o *Observations) { o.Ready = false }, map[string]report.Status{"readiness": report.Fail}},
		{"readiness disabled", noReady, func(o *Observations) { o.Ready = false; o.ReadyAfterTerm = nil },
			map[string]report.Status{"readiness": report.Skipped, "sigterm-readiness": report.Skipped}},
		{"in-flight dropped", cfg, func(o *Observations) { o.InFlightStatus = 0; o.InFlightErr = "EOF" }, map[string]report.Status{"sigterm-drain": report.Fail}},
		{"in-flight 503", cfg, func(o *Observations) { o.InFlightStatus = 503 }, map[string]report.Status{"sigterm-drain": report.Fail}},
		// Answered before SIGTERM: no drain was seen, so none passes.
		{"slow request answered before SIGTERM", cfg, func(o *Observations) { o.AnsweredBeforeTerm = 0.2 }, map[string]report.Status{"sigterm-drain": report.Fail}},
		// SIGTERM came late (a slow runner), but the requests sent after
		// it were in flight when the service stopped listening.
		{"answered before SIGTERM, drained after", cfg, func(o *Observations) { o.AnsweredBeforeTerm, o.AfterTermSent = 0.2, 2 }, nil},
		{"requests after SIGTERM answered", cfg, func(o *Observations) { o.AfterTermSent = 4 }, nil},
		{"a request after SIGTERM cut", cfg, func(o *Observations) {
			o.AfterTermSent, o.AfterTermCut = 4, []string{"sent 0.50s after SIGTERM, cut after 0.50s (reset)"}
		}, map[string]report.Status{"sigterm-drain": report.Fail}},
		{"readiness stays 200", cfg, func(o *Observations) { o.ReadyAfterTerm = []string{"200", "refused"} }, map[string]report.Status{"sigterm-readiness": report.Fail}},
		{"killed by SIGTERM", cfg, func(o *Observations) { o.Exit = Exit{Code: -1, Signal: "signal terminated"} }, map[string]report.Status{"sigterm-exit": report.Fail}},
		{"exit 1", cfg, func(o *Observations) { o.Exit = Exit{Code: 1} }, map[string]report.Status{"sigterm-exit": report.Fail}},
		{"outlived grace", cfg, func(o *Observations) { o.Exited = false }, map[string]report.Status{"sigterm-exit": report.Fail}},
		{"exit status unknown", cfg, func(o *Observations) { o.Exit = Exit{Code: -1, Unknown: true} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			o.ReadyAfterTerm = append([]string(nil), good.ReadyAfterTerm...)
			tt.mutate(&o)
			rs := Evaluate(tt.cfg, o)
			got := statuses(rs)
			if len(got) != len(allChecks) {
				t.Fatalf("got %d checks, want %d: %v", len(got), len(allChecks), got)
			}
			for _, id := range allChecks {
				want, ok := tt.want[id]
				if !ok {
					want = report.Pass
				}
				if got["smoke/"+id] != want {
					t.Errorf("%s = %q, want %q", id, got["smoke/"+id], want)
				}
			}
			for _, r := range rs {
				if r.Status == report.Fail && !strings.Contains(r.Message, ":") {
					t.Errorf("%s fails without saying how to fix it: %q", r.ID, r.Message)
				}
			}
		})
	}
}

// TestDrainAdvice: a dropped in-flight request gets the advice that fits
// what the process did after SIGTERM.
func TestDrainAdvice(t *testing.T) {
	const wait, handler = "wait for Shutdown to return before main exits", fixSignal
	dropped := Observations{
		Runner: "test", BusinessAddr: "127.0.0.1:8080", ProbeAddr: "127.0.0.1:8081",
		Healthy: true, Ready: true, BusinessUp: true, BusinessUnknownStatus: 404,
		TermSent: true, InFlight: true, InFlightErr: "EOF", ReadyAfterTerm: []string{"200", "503", "refused"},
		Exited: true, ShutdownSeconds: 0.05,
	}
	tests := []struct {
		name      string
		exit      Exit
		want, not string
	}{
		{"exits 0 promptly: main returned before Shutdown drained", Exit{Code: 0}, wait, handler},
		{"killed by SIGTERM: no handler", Exit{Code: -1, Signal: "signal terminated"}, handler, wait},
		{"exit 2 (no handler as PID 1)", Exit{Code: 2}, handler, wait},
		{"exit status unknown (Dagger service)", Exit{Code: -1, Unknown: true}, handler, wait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := dropped
			o.Exit = tt.exit
			for _, r := range Evaluate(DefaultConfig(), o) {
				if r.ID != "smoke/sigterm-drain" {
					continue
				}
				if r.Status != report.Fail {
					t.Fatalf("sigterm-drain = %s, want fail", r.Status)
				}
				if !strings.Contains(r.Message, tt.want) || strings.Contains(r.Message, tt.not) {
					t.Errorf("advice %q: want %q, not %q", r.Message, tt.want, tt.not)
				}
				if tt.want == handler && !strings.Contains(r.Message, fixSIGTERMOnly) {
					t.Errorf("advice %q: want the SIGINT-only cause named (%q)", r.Message, fixSIGTERMOnly)
				}
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	mod := func(f func(*Config)) Config { c := DefaultConfig(); f(&c); return c }
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"default", DefaultConfig(), true},
		{"templated env", mod(func(c *Config) { c.BusinessEnv = "PORT={port}" }), true},
		{"fixed ports", mod(func(c *Config) { c.BusinessEnv, c.ProbeEnv = "", "" }), true},
		{"readiness disabled", mod(func(c *Config) { c.ReadyPath = "" }), true},
		{"env value without port", mod(func(c *Config) { c.BusinessEnv = "PORT=8080" }), false},
		{"relative path", mod(func(c *Config) { c.HealthPath = "healthz" }), false},
		{"no health path", mod(func(c *Config) { c.HealthPath = "" }), false},
		{"port out of range", mod(func(c *Config) { c.ProbePort = 70000 }), false},
		{"zero grace", mod(func(c *Config) { c.Grace = 0 }), false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestPortEnv(t *testing.T) {
	for decl, want := range map[string]string{
		"ADDR":                "ADDR=127.0.0.1:1234",
		"PORT={port}":         "PORT=1234",
		"LISTEN=:{port}":      "LISTEN=:1234",
		"URL=h:{port}/{port}": "URL=h:1234/1234",
	} {
		if got := PortEnv(decl, 1234); got != want {
			t.Errorf("PortEnv(%q) = %q, want %q", decl, got, want)
		}
	}
}

// startless fails the test if the gate tries to run the image.
type startless struct{ t *testing.T }

func (s startless) Start(context.Context, v1.Image, Config) (Process, error) {
	s.t.Error("the gate started an image of a platform its runner does not execute")
	return nil, os.ErrInvalid
}

// TestGateSkipsOtherPlatforms: an arm64 image on an amd64 runner is reported
// as not run, with the reason, and never started.
func TestGateSkipsOtherPlatforms(t *testing.T) {
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Gate{Runner: startless{t}, Config: DefaultConfig(), Native: "linux/amd64"}.Check(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].ID != "smoke/platform" || res[0].Status != report.Skipped || !strings.Contains(res[0].Message, "linux/arm64 image not run") {
		t.Errorf("results = %+v", res)
	}
}
