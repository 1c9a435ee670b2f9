// Package plan decides what one call builds and how: the main packages
// (flags, else the policy file, else the source root), expanded to
// binaries by go list (mains.Expand), and for each binary its effective
// choices, layered defaults < go-image.yaml < the file's section for the
// binary < flags, with where each came from. Both executors make their
// plan here, so a go-image.yaml drives the CLI and the module to the same
// binaries, images and verdicts.
package plan

import (
	"context"

	"errors"
	"fmt"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"strings"
	"sync"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/config"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/mains"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/safetext"
	"dagger/go-image/internal/scan"
)

// Binary is one binary of the call with its effective choices.
type Binary struct {
	mains.Binary
	// Choices are the binary's effective choices: Recipe.Main is its one
	// main package and Recipe.Name its name.
	Choices choices.Choices
	// Origins say where each choice came from.
	Origins choices.Origins
}

// Settings are the binary's effective choices with their origins.
func (b Binary) Settings() []choices.Setting { return b.Choices.Settings(b.Origins) }

// ReportSettings are the settings as a report (and the signed gate
// report) records them.
func (b Binary) ReportSettings() []report.Setting {
	var out []report.Setting
	for _, s := range b.Settings() {
		out = append(out, report.Setting{Field: s.Field, Value: s.Value, From: s.From.String()})
	}
	return out
}

// Inputs are a call's sources of choices besides the defaults.
type Inputs struct {
	// Config is the policy file, nil when there is none.
	Config *config.File
	// Flags are the CLI's flags or the module's arguments.
	Flags choices.Layer
}

func (in Inputs) layers(binary string) []choices.Layer {
	ls := []choices.Layer{choices.DefaultLayer()}
	if in.Config != nil {
		ls = append(ls, in.Config.Layer())
		if binary != "" {
			ls = append(ls, in.Config.BinaryLayer(binary))
		}
	}
	if in.Flags.Origin == nil {
		in.Flags.Origin = func(string) choices.Origin { return choices.Origin{Kind: choices.FromFlag} }
	}
	return append(ls, in.Flags)
}

// Top are the call's choices without any binary's section of the policy
// file: the source's own (the lint gate judges the source).
func (in Inputs) Top() (choices.Choices, choices.Origins) {
	return choices.Resolve(in.layers("")...)
}

// Mains are the main packages and patterns the call builds, normalized
// (mains.Normalize): the flags', else the policy file's, else the source
// root.
func (in Inputs) Mains() ([]string, error) {
	c, o := choices.Resolve(in.layers("")...)
	args, err := mains.Normalize(c.Recipe.Main)
	if err != nil {
		return nil, in.locate(&choices.Error{Field: "recipe.main", Err: err}, o, "")
	}
	return args, nil
}

// Lister runs go list (mains.ListArgs) in the source: the local
// toolchain for the CLI, the builder for the module.
type Lister func(ctx context.Context, argv []string) ([]byte, error)

// Expand lists the call's main packages with list and makes the plan.
func (in Inputs) Expand(ctx context.Context, modulePath string, list Lister) ([]Binary, error) {
	args, err := in.Mains()
	if err != nil {
		return nil, err
	}
	out, err := list(ctx, mains.ListArgs(args))
	if err != nil {
		return nil, err
	}
	bins, err := mains.Expand(args, modulePath, out)
	if err != nil {
		return nil, err
	}
	return in.New(bins)
}

// New is the plan of the binaries go list found: each binary's choices,
// validated. A bad choice is an error that says where it was made: the
// policy file's line and column, or (unchanged, a *choices.Error) the
// flag's, which the executor names.
func (in Inputs) New(bins []mains.Binary) ([]Binary, error) {
	if len(bins) == 0 {
		return nil, errors.New("no main package to build")
	}
	names := mains.Names(bins)
	top, o := choices.Resolve(in.layers("")...)
	// A section for a binary the file's own main packages do not build is
	// a typo. When flags name other main packages, the file's sections for
	// the binaries left out simply do not apply.
	if in.Config != nil && o.Of("recipe.main").Kind != choices.FromFlag {
		if err := in.Config.CheckBinaries(names); err != nil {
			return nil, err
		}
	}
	if top.Recipe.Name != nil && len(bins) > 1 {
		return nil, in.locate(&choices.Error{Field: "recipe.name", Err: fmt.Errorf("name %q given for %d binaries (%s): each is named after its main package's directory; give a name with one main package only", *top.Recipe.Name, len(bins), strings.Join(names, ", "))}, o, "")
	}
	out := make([]Binary, len(bins))
	for i, b := range bins {
		c, o := choices.Resolve(in.layers(b.Name)...)
		if c.Recipe.Name != nil {
			b.Name = *c.Recipe.Name // one binary, named by a flag
		} else {
			o["recipe.name"] = choices.Origin{Kind: choices.FromDefault, Where: "(its main package's directory)"}
		}
		c.Recipe.Main, c.Recipe.Name = []string{b.Main}, &b.Name
		if err := c.Validate(); err != nil {
			var ce *choices.Error
			if errors.As(err, &ce) && ce.Field == "recipe.name" && o.Of("recipe.name").Kind == choices.FromDefault {
				// The source's directory made the name, not a --name the
				// executor would blame (cmd/a+b read "--name: binary name").
				return nil, fmt.Errorf("main package %s: its directory names the binary: %w", safetext.Line(b.Main), ce.Err)
			}
			return nil, in.locate(err, o, b.Name)
		}
		out[i] = Binary{Binary: b, Choices: c, Origins: o}
	}
	return out, nil
}

// ImageSection is the binary whose section of the policy file applies to
// an image go-image did not build (check, scan, smoke --config): the one
// the caller names. Not the image's title label: an image's labels are its
// author's, and a label that picked the section would let an image pick
// the most lenient one (a section that switches smoke off or skips
// harden/no-setuid). Without a name, a file with sections is refused,
// naming them; a file without sections needs none. A name without a
// section applies the top level: a binary the file has no overrides for.
func ImageSection(cfg *config.File, named, title string) (string, error) {
	if named != "" || cfg == nil || len(cfg.Binaries) == 0 {
		return named, nil
	}
	hint := ""
	if title != "" {
		hint = fmt.Sprintf(" (the image's title label says %q, but an image's labels are its author's and do not choose its policy)", title)
	}
	return "", fmt.Errorf("the policy file has sections for the binaries %s: name the one whose section applies to this image with --binary NAME%s; a binary without a section: its name, and the top level applies",
		strings.Join(cfg.BinaryNames(), ", "), hint)
}

// ForImage are the choices for an image built already (go-image check,
// scan, smoke), whose binary is name (ImageSection): the policy file's
// top level and its section for name, under the flags, validated. A
// section for another binary is no error here: the file describes the
// whole source.
func (in Inputs) ForImage(name string) (Binary, error) {
	c, o := choices.Resolve(in.layers(name)...)
	if err := c.Validate(); err != nil {
		return Binary{}, in.locate(err, o, name)
	}
	return Binary{Binary: mains.Binary{Name: name}, Choices: c, Origins: o}, nil
}

// locate places a bad effective choice where it was made.
func (in Inputs) locate(err error, o choices.Origins, binary string) error {
	var ce *choices.Error
	if !errors.As(err, &ce) {
		return err
	}
	if o.Of(ce.Field).Kind == choices.FromFile && in.Config != nil {
		if located := in.Config.Locate(err, binary); located != nil {
			return located
		}
	}
	return err
}

// On says whether some binary runs gate: the executor sets up its runner
// (finds Trivy, a smoke runner) only then.
func On(bins []Binary, gate string) bool {
	for _, b := range bins {
		if b.Choices.Gates.On(gate) {
			return true
		}
	}
	return false
}

// Names are the binaries' names, in order.
func Names(bs []Binary) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Name
	}
	return out
}

// Shared are the runners of one call as its binaries share them, gated
// side by side: the analyzers run once (SharedLint), and one Trivy runs at
// a time, since Trivy processes sharing a cache directory can lock each
// other out of its DB.
func Shared(r choices.Runners) choices.Runners {
	r.Lint = SharedLint(r.Lint)
	if ir, ok := r.Scan.(scan.ImageRunner); ok {
		r.Scan = &serialImageScan{serialScan{r: ir}, ir}
	} else if r.Scan != nil {
		r.Scan = &serialScan{r: r.Scan}
	}
	return r
}

// serialImageScan keeps the runner's ScanImage (the module's Trivy).
type serialImageScan struct {
	serialScan
	ir scan.ImageRunner
}

func (s *serialImageScan) ScanImage(ctx context.Context, img v1.Image) (scan.Output, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ir.ScanImage(ctx, img)
}

type serialScan struct {
	mu sync.Mutex
	r  scan.Runner
}

func (s *serialScan) Scan(ctx context.Context, imageTar string) (scan.Output, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.Scan(ctx, imageTar)
}

// SharedLint runs the analyzers once per set of options for every binary
// of the source: the lint gate judges the module's packages, which the
// binaries share, so N images need one lint, not N.
func SharedLint(r lint.Runner) lint.Runner {
	if r == nil {
		return nil
	}
	return &sharedLint{r: r, runs: map[string]*lintRun{}}
}

type sharedLint struct {
	r    lint.Runner
	mu   sync.Mutex
	runs map[string]*lintRun
}

type lintRun struct {
	once sync.Once
	f    lint.Findings
	err  error
}

func (s *sharedLint) Lint(ctx context.Context, o lint.Options) (lint.Findings, error) {
	key := fmt.Sprintf("%v", o) // fmt sorts the policy map's keys
	s.mu.Lock()
	run := s.runs[key]
	if run == nil {
		run = &lintRun{}
		s.runs[key] = run
	}
	s.mu.Unlock()
	run.once.Do(func() { run.f, run.err = s.r.Lint(ctx, o) })
	return run.f, run.err
}
