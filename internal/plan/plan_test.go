package plan_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/config"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/mains"
	"dagger/go-image/internal/plan"
	"dagger/go-image/internal/scan"
)

const policy = `recipe:
  main: [./cmd/...]
gates:
  maxSize: 20MB
binaries:
  ctl:
    gates:
      off:
        smoke: a command-line tool
`

func parse(t *testing.T, src string) *config.File {
	t.Helper()
	f, err := config.Parse("go-image.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func flags(c choices.Choices) choices.Layer {
	return choices.Layer{Choices: c, Origin: func(field string) choices.Origin {
		return choices.Origin{Kind: choices.FromFlag, Where: "--" + field}
	}}
}

func lister(dir string) plan.Lister {
	return func(ctx context.Context, argv []string) ([]byte, error) { return compile.List(ctx, dir, argv) }
}

func TestExpand(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join("..", "..", "testdata", "monorepo")
	in := plan.Inputs{Config: parse(t, policy), Flags: flags(choices.Choices{Gates: choices.Gates{UPX: new("warn")}})}
	bins, err := in.Expand(ctx, "example.com/monorepo", lister(dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Names(bins); !reflect.DeepEqual(got, []string{"api", "ctl", "worker"}) {
		t.Fatalf("binaries = %v", got)
	}
	api, ctl := bins[0], bins[1]
	if api.Choices.Recipe.Main[0] != "./cmd/api" || *api.Choices.Recipe.Name != "api" {
		t.Errorf("api's recipe: %+v", api.Choices.Recipe)
	}
	if !api.Choices.Gates.On("smoke") || ctl.Choices.Gates.On("smoke") {
		t.Error("the ctl section switches smoke off for ctl only")
	}
	for _, b := range bins {
		if *b.Choices.Gates.MaxSize != "20MB" || *b.Choices.Gates.UPX != "warn" {
			t.Errorf("%s: the file's and the flags' choices apply to every binary: %+v", b.Name, b.Choices.Gates)
		}
	}
	for field, want := range map[string]string{
		"gates.maxSize":       "file go-image.yaml:4:12",
		"gates.upx":           "flag --gates.upx",
		"gates.off.smoke":     "file go-image.yaml:9:16, section binaries.ctl",
		"recipe.main":         "file go-image.yaml:2:9",
		"gates.scan.severity": "default",
	} {
		if got := ctl.Origins.Of(field).String(); got != want {
			t.Errorf("ctl: origin of %s = %q, want %q", field, got, want)
		}
	}

	// Flags' main packages replace the file's.
	in.Flags = flags(choices.Choices{Recipe: choices.Recipe{Main: []string{"./cmd/worker"}}})
	in.Config = parse(t, "recipe:\n  main: [./cmd/...]\n")
	bins, err = in.Expand(ctx, "example.com/monorepo", lister(dir))
	if err != nil || !reflect.DeepEqual(plan.Names(bins), []string{"worker"}) {
		t.Errorf("--main ./cmd/worker over the file's ./cmd/...: %v, %v", plan.Names(bins), err)
	}
	// One main and a name: the binary takes the name.
	in.Flags = flags(choices.Choices{Recipe: choices.Recipe{Main: []string{"./cmd/worker"}, Name: new("jobs")}})
	bins, err = in.Expand(ctx, "example.com/monorepo", lister(dir))
	if err != nil || bins[0].Name != "jobs" || *bins[0].Choices.Recipe.Name != "jobs" {
		t.Errorf("--name jobs: %+v, %v", bins, err)
	}
}

func TestNewErrors(t *testing.T) {
	bins := []mains.Binary{{Name: "api", Main: "./cmd/api"}, {Name: "ctl", Main: "./cmd/ctl"}}
	for _, tc := range []struct {
		name  string
		in    plan.Inputs
		want  string
		field string // a *choices.Error for a flag
	}{
		{"a flag's bad choice stays the flag's", plan.Inputs{Flags: flags(choices.Choices{Gates: choices.Gates{MaxSize: new("25M")}})}, "max size", "gates.maxSize"},
		{"a name for several binaries", plan.Inputs{Flags: flags(choices.Choices{Recipe: choices.Recipe{Name: new("x")}})}, `name "x" given for 2 binaries (api, ctl)`, "recipe.name"},
		{"a section for a binary not built", plan.Inputs{Config: parse(t, "binaries:\n  worker:\n    gates: {}\n")}, "go-image.yaml:2:3: binaries.worker: no main package of this call builds a binary named worker (it builds api, ctl)", ""},
		{"a combination the file made is located in the file", plan.Inputs{Config: parse(t, "gates:\n  smoke:\n    healthPath: /live\n"), Flags: flags(choices.Choices{Gates: choices.Gates{Smoke: choices.Smoke{HealthPath: new("/live")}}})}, "", ""},
		{"the file's name for several binaries", plan.Inputs{Config: parse(t, "recipe:\n  name: svc\n")}, "go-image.yaml:2:9: recipe.name", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.in.New(bins)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want %q", err, tc.want)
			}
			var ce *choices.Error
			if tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field) {
				t.Errorf("a flag's error must stay a *choices.Error at %s for the executor to name the flag: %#v", tc.field, err)
			}
		})
	}
	// A bad binary section is found by config.Parse already; an
	// effective choice the file makes bad only with a flag is the flag's.
	in := plan.Inputs{Config: parse(t, "gates:\n  smoke:\n    businessEnv: ADDR\n"), Flags: flags(choices.Choices{Gates: choices.Gates{Smoke: choices.Smoke{BusinessEnv: new("PORT=1")}}})}
	if _, err := in.New(bins); err == nil || strings.Contains(err.Error(), "go-image.yaml") {
		t.Errorf("New = %v: the flag made the bad choice", err)
	}
}

// TestNewDirectoryName: a name the source's directory made (cmd/a+b, a
// directory of 200 bytes) is the directory's fault, not the --name flag's
// the executor names for a *choices.Error at recipe.name.
func TestNewDirectoryName(t *testing.T) {
	long := strings.Repeat("a", 200)
	for _, b := range []mains.Binary{{Name: "a+b", Main: "./cmd/a+b"}, {Name: long, Main: "./cmd/" + long}} {
		_, err := plan.Inputs{}.New([]mains.Binary{b})
		if err == nil || !strings.Contains(err.Error(), "main package "+b.Main+": its directory names the binary") {
			t.Errorf("New(%.20s) = %v, want the main package named", b.Name, err)
		}
		var ce *choices.Error
		if errors.As(err, &ce) {
			t.Errorf("New(%.20s) = %#v: a *choices.Error at %s reads as the flag's", b.Name, err, ce.Field)
		}
	}
	// Named by the flag, the flag's.
	_, err := plan.Inputs{Flags: flags(choices.Choices{Recipe: choices.Recipe{Name: new("a+b")}})}.New([]mains.Binary{{Name: "api", Main: "./cmd/api"}})
	var ce *choices.Error
	if !errors.As(err, &ce) || ce.Field != "recipe.name" {
		t.Errorf("New with --name a+b = %#v, want the flag's *choices.Error", err)
	}
}

type countingLint struct{ n atomic.Int32 }

func (c *countingLint) Lint(context.Context, lint.Options) (lint.Findings, error) {
	c.n.Add(1)
	return lint.Findings{Packages: 3}, nil
}

func TestSharedLint(t *testing.T) {
	c := &countingLint{}
	r := plan.SharedLint(c)
	done := make(chan struct{})
	for range 8 {
		go func() {
			f, err := r.Lint(context.Background(), lint.Options{Operational: "/metrics"})
			if err != nil || f.Packages != 3 {
				t.Errorf("Lint = %+v, %v", f, err)
			}
			done <- struct{}{}
		}()
	}
	for range 8 {
		<-done
	}
	if _, err := r.Lint(context.Background(), lint.Options{Operational: "/debug/"}); err != nil {
		t.Fatal(err)
	}
	if got := c.n.Load(); got != 2 {
		t.Errorf("the analyzers ran %d times for 2 sets of options", got)
	}
	if plan.SharedLint(nil) != nil {
		t.Error("no runner shares as no runner")
	}
}

func ExampleInputs_Mains() {
	f, _ := config.Parse("go-image.yaml", []byte("recipe:\n  main: [cmd/...]\n"))
	fmt.Println(plan.Inputs{Config: f}.Mains())
	fmt.Println(plan.Inputs{}.Mains())
	// Output:
	// [./cmd/...] <nil>
	// [.] <nil>
}

type slowScan struct {
	in, most atomic.Int32
	image    bool
}

func (s *slowScan) Scan(context.Context, string) (scan.Output, error) {
	n := s.in.Add(1)
	defer s.in.Add(-1)
	if n > s.most.Load() {
		s.most.Store(n)
	}
	time.Sleep(5 * time.Millisecond)
	return scan.Output{}, nil
}

type slowImageScan struct{ slowScan }

func (s *slowImageScan) ScanImage(ctx context.Context, _ v1.Image) (scan.Output, error) {
	s.image = true
	return s.Scan(ctx, "")
}

// TestSharedScan: one Trivy at a time, and the module's image scanner
// stays one.
func TestSharedScan(t *testing.T) {
	plain, image := &slowScan{}, &slowImageScan{}
	for _, r := range []scan.Runner{plain, image} {
		shared := plan.Shared(choices.Runners{Scan: r}).Scan
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if ir, ok := shared.(scan.ImageRunner); ok {
					ir.ScanImage(context.Background(), nil)
				} else {
					shared.Scan(context.Background(), "x.tar")
				}
			})
		}
		wg.Wait()
	}
	if plain.most.Load() != 1 || image.most.Load() != 1 {
		t.Errorf("scans at once: %d, %d; want 1", plain.most.Load(), image.most.Load())
	}
	if !image.image {
		t.Error("the shared runner lost ScanImage")
	}
}

// TestNarrowedMains: a file's sections for binaries a --main flag leaves
// out do not apply, and are no error.
func TestNarrowedMains(t *testing.T) {
	in := plan.Inputs{Config: parse(t, policy), Flags: flags(choices.Choices{Recipe: choices.Recipe{Main: []string{"./cmd/api"}}})}
	bins, err := in.New([]mains.Binary{{Name: "api", Main: "./cmd/api"}})
	if err != nil || len(bins) != 1 || !bins[0].Choices.Gates.On("smoke") {
		t.Errorf("New = %+v, %v", bins, err)
	}
}

func TestForImage(t *testing.T) {
	in := plan.Inputs{Config: parse(t, policy), Flags: flags(choices.Choices{Gates: choices.Gates{UPX: new("warn")}})}
	ctl, err := in.ForImage("ctl")
	if err != nil || ctl.Choices.Gates.On("smoke") || *ctl.Choices.Gates.MaxSize != "20MB" || *ctl.Choices.Gates.UPX != "warn" {
		t.Errorf("ForImage(ctl) = %+v, %v", ctl.Choices.Gates, err)
	}
	other, err := in.ForImage("tool")
	if err != nil || !other.Choices.Gates.On("smoke") {
		t.Errorf("ForImage(tool): the top level only: %+v, %v", other.Choices.Gates, err)
	}
	in.Flags = flags(choices.Choices{Gates: choices.Gates{MaxSize: new("25M")}})
	if _, err := in.ForImage("ctl"); err == nil || !strings.Contains(err.Error(), "max size") {
		t.Errorf("ForImage with a bad flag = %v", err)
	}
}

// TestImageSection: the policy section for an image go-image did not
// build is the caller's to name, never the image's title label's, which
// its author sets (a label naming a lenient section would pick it).
func TestImageSection(t *testing.T) {
	withSections := parse(t, policy)
	noSections := parse(t, "gates:\n  maxSize: 9MB\n")
	tests := []struct {
		name         string
		cfg          *config.File
		named, title string
		want, err    string
	}{
		{"named", withSections, "ctl", "", "ctl", ""},
		{"named, whatever the title says", withSections, "api", "ctl", "api", ""},
		{"named without a section: the top level", withSections, "tool", "", "tool", ""},
		{"no file", nil, "", "ctl", "", ""},
		{"a file without sections needs no name", noSections, "", "ctl", "", ""},
		{"unnamed, the title picking a lenient section", withSections, "", "ctl", "", `name the one whose section applies to this image with --binary NAME (the image's title label says "ctl", but an image's labels are its author's`},
		{"unnamed, no title", withSections, "", "", "", "the policy file has sections for the binaries ctl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := plan.ImageSection(tt.cfg, tt.named, tt.title)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ImageSection = %q, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ImageSection = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
