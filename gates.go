package main

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/engine"
	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/policy"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/smoke"
)

// Check builds the image and runs every gate on it, in the order and with
// the choices Release uses: size, scan, upx, harden, lint, smoke. It returns
// the report, and fails when a check fails unless noFail is set.
// +cache="never"
func (m *GoImage) Check(
	ctx context.Context,
	// Report format: text, json or markdown.
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when a check fails.
	// +optional
	noFail bool,
) (string, error) {
	if err := checkFormat(format); err != nil {
		return "", err
	}
	e, p, err := m.executor(ctx)
	if err != nil {
		return "", err
	}
	gs, err := m.gates(ctx, e)
	if err != nil {
		return "", err
	}
	b, err := e.Image(ctx, p)
	if err != nil {
		return "", err
	}
	return writeReport(gates.Run(ctx, b.Image, gs...), format, noFail)
}

// Scan builds the image and runs the vulnerability gate alone: Trivy scans
// the image tarball and go-image's policy (the same Go code as
// `go-image scan`) decides. A failing gate is an error carrying the report.
// +cache="never"
func (m *GoImage) Scan(ctx context.Context) (string, error) {
	res, _, err := m.scan(ctx, false)
	if err != nil {
		return "", err
	}
	return writeReport(&report.Report{Results: []report.Result{res}}, "text", false)
}

// ScanReport runs the same scan and returns the files to upload, without
// failing when the gate does: trivy.json (every finding, before go-image's
// policy), trivy.sarif (SARIF 2.1.0, ignore file applied, for code
// scanning) and go-image-scan.json (go-image's verdict).
// +cache="never"
func (m *GoImage) ScanReport(ctx context.Context) (*dagger.Directory, error) {
	res, out, err := m.scan(ctx, true)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := (&report.Report{Results: []report.Result{res}}).WriteJSON(&b); err != nil {
		return nil, err
	}
	return dag.Directory().
		WithNewFile("trivy.json", string(out.JSON)).
		WithNewFile("trivy.sarif", string(out.SARIF)).
		WithNewFile("go-image-scan.json", b.String()), nil
}

// Smoke builds the image, runs it as a Dagger service and checks what a
// Kubernetes pod needs from it, with the CLI's driver: the health path
// answers 200 on the probe port within the start-up budget, the business
// port does not serve it, the ready path answers 200 only once the business
// port accepts, and on SIGTERM readiness turns 503, the in-flight request
// completes and the service stops within the grace period. The exit status
// is not visible through Dagger.
// +cache="never"
func (m *GoImage) Smoke(
	ctx context.Context,
	// Report format: text, json or markdown.
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when a check fails.
	// +optional
	noFail bool,
) (string, error) {
	if err := checkFormat(format); err != nil {
		return "", err
	}
	e, p, err := m.executor(ctx)
	if err != nil {
		return "", err
	}
	g, err := m.smokeGate(ctx, e)
	if err != nil {
		return "", err
	}
	b, err := e.Image(ctx, p)
	if err != nil {
		return "", err
	}
	return writeReport(gates.Run(ctx, b.Image, g), format, noFail)
}

// Lint runs go-image's Kubernetes analyzers (clients built per request,
// uncancellable watches and informers, servers that cannot drain, health
// routes on the business mux) over every package of the source, as
// `go vet -vettool=k8slint` in the builder. Same checks as `go-image lint`.
func (m *GoImage) Lint(
	ctx context.Context,
	// Report format: text, json, markdown, or sarif (SARIF 2.1.0 of the findings, for code scanning).
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when an analyzer reports.
	// +optional
	noFail bool,
) (string, error) {
	if format != "sarif" {
		if err := checkFormat(format); err != nil {
			return "", err
		}
	}
	lo, err := m.lintOptions()
	if err != nil {
		return "", err
	}
	e, _, err := m.executor(ctx)
	if err != nil {
		return "", err
	}
	fs, err := e.Lint(ctx, lo)
	if err != nil {
		return "", err
	}
	r := &report.Report{Results: lo.Policy.Results(engine.SourceDir, -1, lint.Analyzers(), fs)}
	if format != "sarif" {
		return writeReport(r, format, noFail)
	}
	b, err := lint.SARIF(engine.SourceDir, lint.Analyzers(), fs, lo.Policy)
	if err != nil {
		return "", err
	}
	if err := r.Err(); err != nil && !noFail {
		return "", fmt.Errorf("%s\n%w", b, err)
	}
	return string(b), nil
}

// lintOptions are the lint gate's choices.
func (m *GoImage) lintOptions() (lint.Options, error) {
	p, err := lint.ParsePolicy(m.LintPolicy)
	if err != nil {
		return lint.Options{}, err
	}
	return lint.Options{Policy: p, Operational: m.LintOperationalRoutes}, nil
}

// gates is the standard gate list (internal/policy) with the module's
// scan, lint and smoke. Every choice is validated before anything builds.
func (m *GoImage) gates(ctx context.Context, e *engine.Executor) ([]gates.Gate, error) {
	opts, err := policy.Parse(m.MaxSize, m.UpxPolicy, m.SkippedChecks)
	if err != nil {
		return nil, err
	}
	for _, kv := range m.Off {
		gate, reason, _ := strings.Cut(kv, "=")
		if err := opts.SwitchOff(gate, reason); err != nil {
			return nil, err
		}
	}
	if _, off := opts.Off["scan"]; !off {
		sp, ignorefile, err := m.scanPolicy(ctx)
		if err != nil {
			return nil, err
		}
		opts.Scan = policy.Func("scan", func(ctx context.Context, img v1.Image) ([]report.Result, error) {
			b, err := e.Built(img)
			if err != nil {
				return nil, err
			}
			res, err := m.scanBuilt(ctx, e, b, sp, ignorefile, false)
			return []report.Result{res.result}, err
		})
	}
	if _, off := opts.Off["lint"]; !off {
		lo, err := m.lintOptions()
		if err != nil {
			return nil, err
		}
		opts.Lint = policy.SourceFunc("lint", func(ctx context.Context) ([]report.Result, error) {
			fs, err := e.Lint(ctx, lo)
			return lo.Policy.Results(engine.SourceDir, -1, lint.Analyzers(), fs), err
		})
	}
	if _, off := opts.Off["smoke"]; !off {
		if opts.Smoke, err = m.smokeGate(ctx, e); err != nil {
			return nil, err
		}
	}
	return policy.Standard(opts), nil
}

// smokeConfig is the smoke gate's configuration from WithSmoke. The service
// has its own network namespace, so it keeps its ports.
func (m *GoImage) smokeConfig() (smoke.Config, error) {
	cfg := smoke.DefaultConfig()
	cfg.BusinessEnv, cfg.ProbeEnv = "", ""
	if m.SmokeBusinessPort != 0 {
		cfg.BusinessPort = m.SmokeBusinessPort
	}
	if m.SmokeProbePort != 0 {
		cfg.ProbePort = m.SmokeProbePort
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&cfg.HealthPath, m.SmokeHealthPath}, {&cfg.ReadyPath, m.SmokeReadyPath}, {&cfg.SlowPath, m.SmokeSlowPath}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if m.SmokeNoReadiness {
		cfg.ReadyPath = ""
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
		v    string
	}{{"startup budget", &cfg.StartupBudget, m.SmokeStartupBudget}, {"grace", &cfg.Grace, m.SmokeGrace}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil {
			return cfg, fmt.Errorf("smoke %s %q: %w (e.g. 30s)", d.name, d.v, err)
		}
		*d.dst = v
	}
	return cfg, cfg.Validate()
}

// smokeGate is the CLI's smoke gate with a Dagger service runner, which
// runs the engine's own platform.
func (m *GoImage) smokeGate(ctx context.Context, e *engine.Executor) (gates.Gate, error) {
	cfg, err := m.smokeConfig()
	if err != nil {
		return nil, err
	}
	native, err := dag.DefaultPlatform(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine platform: %w", err)
	}
	p, err := recipe.ParsePlatform(string(native))
	if err != nil {
		return nil, err
	}
	return smoke.Gate{Runner: engine.Runner{E: e}, Config: cfg, Native: p.OS + "/" + p.Arch}, nil
}

// scanPolicy reads the scan choices into the gate's policy; the ignore file
// is returned too (the source's .trivyignore when none is given), for
// Trivy's SARIF rendering.
func (m *GoImage) scanPolicy(ctx context.Context) (scan.Policy, *dagger.File, error) {
	sev, err := scan.ParseSeverity(cmp.Or(m.Severity, scan.DefaultSeverity))
	if err != nil {
		return scan.Policy{}, nil, err
	}
	p := scan.Policy{Severities: sev, IgnoreUnfixed: m.IgnoreUnfixed}
	ignorefile := m.Ignorefile
	if ignorefile == nil {
		if ok, err := m.Source.Exists(ctx, ".trivyignore"); err == nil && ok {
			ignorefile = m.Source.File(".trivyignore")
		}
	}
	if ignorefile != nil {
		text, err := ignorefile.Contents(ctx)
		if err != nil {
			return p, nil, fmt.Errorf("ignorefile: %w", err)
		}
		if p.Ignore, err = scan.ParseIgnore(".trivyignore", []byte(text)); err != nil {
			return p, nil, err
		}
	}
	return p, ignorefile, nil
}

type scanned struct {
	result report.Result
	out    scan.Output
}

// scan builds the constructor's platform and scans it.
func (m *GoImage) scan(ctx context.Context, sarif bool) (report.Result, scan.Output, error) {
	p, ignorefile, err := m.scanPolicy(ctx)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	e, b, err := m.image(ctx)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	s, err := m.scanBuilt(ctx, e, b, p, ignorefile, sarif)
	return s.result, s.out, err
}

// scanBuilt runs Trivy over b's tarball and applies the policy in Go.
func (m *GoImage) scanBuilt(ctx context.Context, e *engine.Executor, b engine.Built, p scan.Policy, ignorefile *dagger.File, sarif bool) (scanned, error) {
	t := engine.Trivy{Image: m.TrivyImage, DBRepository: m.TrivyDbRepository, DB: m.TrivyDb}
	out, err := e.Scan(ctx, t, b.Tarball, ignorefile, sarif)
	if err != nil {
		return scanned{}, err
	}
	res, err := p.Judge(out)
	if err != nil {
		return scanned{}, err
	}
	return scanned{res, out}, nil
}

func checkFormat(format string) error {
	switch format {
	case "", "text", "json", "markdown", "md":
		return nil
	}
	return fmt.Errorf("format %q: use text, json or markdown", format)
}

// writeReport renders r and fails when a check failed, unless noFail.
func writeReport(r *report.Report, format string, noFail bool) (string, error) {
	var b strings.Builder
	if err := r.Write(&b, format); err != nil {
		return "", err
	}
	if err := r.Err(); err != nil && !noFail {
		return "", fmt.Errorf("%s\n%w", b.String(), err)
	}
	return b.String(), nil
}
