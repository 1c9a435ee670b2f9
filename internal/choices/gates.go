package choices

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/harden"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/policy"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/size"
	"dagger/go-image/internal/smoke"
	"dagger/go-image/internal/srcfile"
	"dagger/go-image/internal/upx"
)

// DefaultIgnoreFile is the scan's ignore file when none is named: read
// from the source root when it is there, as Trivy reads it.
const DefaultIgnoreFile = ".trivyignore"

const (
	defaultSeverity    = scan.DefaultSeverity
	defaultOperational = lint.DefaultOperational
)

// Runners run the gates whose work depends on the executor: Trivy as a
// local binary or an image, the analyzers in process or as go vet in a
// builder, the image as a process or a Dagger service.
type Runners struct {
	Scan  scan.Runner
	Lint  lint.Runner
	Smoke smoke.Runner
	// Native is the os/arch the smoke runner starts images on; an image of
	// another platform is reported as not run.
	Native string
}

// Files reads the files the choices name, where the executor finds them.
type Files interface {
	// ReadFile reads a file the user named: a path for the CLI, a file
	// argument (or a file of the source) for the module. More than limit
	// bytes is an error wrapping srcfile.ErrTooLarge, before they are
	// read: the file may come with the code under review.
	ReadFile(ctx context.Context, name string, limit int64) ([]byte, error)
	// InSource is the name ReadFile knows the source root's file name
	// by, or "" when the source has no such file.
	InSource(ctx context.Context, name string) (string, error)
}

// On says whether a gate is on: every gate is, unless switched off.
func (g Gates) On(gate string) bool {
	_, off := g.Off[gate]
	return !off
}

// Validate checks the gate choices, in the order the gates run.
func (g Gates) Validate() error {
	if _, err := g.Policy(); err != nil {
		return err
	}
	if _, err := g.Scan.Severities(); err != nil {
		return err
	}
	if _, err := g.Lint.Options(); err != nil {
		return err
	}
	_, err := g.Smoke.Config()
	return err
}

// Policy is the built-in gates' policy (size, upx, the hardening skips)
// and the gates switched off, without the executor's gates.
func (g Gates) Policy() (policy.Options, error) {
	o := policy.Options{MaxSize: size.DefaultMaxSize}
	var err error
	if g.MaxSize != nil {
		if o.MaxSize, err = size.ParseBytes(*g.MaxSize); err != nil {
			return o, bad("gates.maxSize", fmt.Errorf("max size: %w", err))
		}
	}
	if o.UPX, err = upx.ParsePolicy(or(g.UPX, string(upx.Deny))); err != nil {
		return o, bad("gates.upx", err)
	}
	// One by one, so that an error names the check it is about.
	for _, kv := range sortedPairs(g.Skip) {
		if _, err := harden.ParseSkip([]string{kv}); err != nil {
			id, _, _ := strings.Cut(kv, "=")
			return o, bad("gates.skip."+id, err)
		}
	}
	if o.Skip, err = harden.ParseSkip(sortedPairs(g.Skip)); err != nil {
		return o, bad("gates.skip", err)
	}
	for _, gate := range slices.Sorted(maps.Keys(g.Off)) {
		if err := o.SwitchOff(gate, g.Off[gate]); err != nil {
			return o, bad("gates.off."+gate, err)
		}
	}
	return o, nil
}

// List is the standard gate list (policy.Standard: size, scan, upx,
// harden, lint, smoke) of these choices with the executor's runners: the
// one place where choices become gates. A gate switched off is reported
// as skipped with its reason and needs no runner; a gate that is on
// without a runner is left out (go-image check runs scan, lint and smoke
// on request). The scan's ignore file is read through files.
func (g Gates) List(ctx context.Context, files Files, r Runners) ([]gates.Gate, error) {
	o, err := g.Policy()
	if err != nil {
		return nil, err
	}
	if g.On("scan") && r.Scan != nil {
		p, _, err := g.Scan.Policy(ctx, files)
		if err != nil {
			return nil, err
		}
		o.Scan = &scan.Gate{Runner: r.Scan, Policy: p}
	}
	if g.On("lint") && r.Lint != nil {
		lo, err := g.Lint.Options()
		if err != nil {
			return nil, err
		}
		o.Lint = lint.Gate{Runner: r.Lint, Options: lo}
	}
	if g.On("smoke") && r.Smoke != nil {
		cfg, err := g.Smoke.Config()
		if err != nil {
			return nil, err
		}
		o.Smoke = smoke.Gate{Runner: r.Smoke, Config: cfg, Native: r.Native}
	}
	return policy.Standard(o), nil
}

// Severities are the severities that fail the scan gate.
func (s Scan) Severities() ([]string, error) {
	sev, err := scan.ParseSeverity(or(s.Severity, defaultSeverity))
	return sev, bad("gates.scan.severity", err)
}

// Policy is the scan gate's policy, with the ignore file read through
// files: the one named, else DefaultIgnoreFile at the source root when
// the source has one. The file's name is returned too ("" for none), for
// Trivy's SARIF rendering, which applies it.
func (s Scan) Policy(ctx context.Context, files Files) (scan.Policy, string, error) {
	sev, err := s.Severities()
	if err != nil {
		return scan.Policy{}, "", err
	}
	p := scan.Policy{Severities: sev, IgnoreUnfixed: deref(s.IgnoreUnfixed)}
	name := deref(s.IgnoreFile)
	if name == "" {
		if name, err = files.InSource(ctx, DefaultIgnoreFile); err != nil {
			return p, "", bad("gates.scan.ignoreFile", fmt.Errorf("look for the source's %s: %w", DefaultIgnoreFile, err))
		}
	}
	if name == "" {
		return p, "", nil
	}
	data, err := files.ReadFile(ctx, name, srcfile.MaxIgnoreFile)
	if errors.Is(err, fs.ErrNotExist) {
		return p, "", bad("gates.scan.ignoreFile", fmt.Errorf("ignore file %s: there is no such file: name an existing .trivyignore, or leave it out", name))
	}
	if err != nil {
		return p, "", bad("gates.scan.ignoreFile", fmt.Errorf("ignore file %s: %w", name, err))
	}
	if p.Ignore, err = scan.ParseIgnoreFile(name, data); err != nil {
		return p, "", bad("gates.scan.ignoreFile", err)
	}
	return p, name, nil
}

// Options are the lint gate's options.
func (l Lint) Options() (lint.Options, error) {
	p, err := lint.ParsePolicy(deref(l.Policy))
	if err != nil {
		return lint.Options{}, bad("gates.lint.policy", err)
	}
	o := lint.Options{Policy: p}
	// "" is the analyzers' own default: only a different list is passed.
	if r := deref(l.OperationalRoutes); r != defaultOperational {
		o.Operational = r
	}
	return o, nil
}

// Config is the smoke gate's configuration: smoke.DefaultConfig with the
// choices made, validated.
func (s Smoke) Config() (smoke.Config, error) {
	c, err := s.parsed()
	if err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, bad(s.culprit(), err)
	}
	return c, nil
}

// parsed is the configuration, durations parsed, not yet validated.
func (s Smoke) parsed() (smoke.Config, error) {
	c := s.config()
	for _, d := range []struct {
		field, name string
		dst         *time.Duration
		v           *string
	}{{"startupBudget", "startup budget", &c.StartupBudget, s.StartupBudget}, {"grace", "grace", &c.Grace, s.Grace}} {
		if d.v == nil {
			continue
		}
		v, err := time.ParseDuration(*d.v)
		if err != nil {
			return c, bad("gates.smoke."+d.field, fmt.Errorf("smoke %s %q: %w (e.g. 30s)", d.name, *d.v, err))
		}
		*d.dst = v
	}
	return c, nil
}

// culprit is the smoke choice that smoke.Config.Validate refuses on its
// own, "gates.smoke" when only a combination fails (the same port twice).
func (s Smoke) culprit() string {
	v := reflect.ValueOf(s)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			continue
		}
		var one Smoke
		reflect.ValueOf(&one).Elem().Field(i).Set(v.Field(i))
		if c, err := one.parsed(); err == nil && c.Validate() != nil {
			return "gates.smoke." + jsonName(v.Type().Field(i))
		}
	}
	return "gates.smoke"
}

// config is smoke.DefaultConfig with every choice but the durations.
func (s Smoke) config() smoke.Config {
	c := smoke.DefaultConfig()
	c.BusinessPort = or(s.BusinessPort, c.BusinessPort)
	c.ProbePort = or(s.ProbePort, c.ProbePort)
	c.HealthPath = or(s.HealthPath, c.HealthPath)
	c.ReadyPath = or(s.ReadyPath, c.ReadyPath)
	c.SlowPath = or(s.SlowPath, c.SlowPath)
	c.BusinessEnv = or(s.BusinessEnv, c.BusinessEnv)
	c.ProbeEnv = or(s.ProbeEnv, c.ProbeEnv)
	return c
}
