package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/engine"
	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/smoke"
	"dagger/go-image/internal/timing"
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
	if err := report.CheckFormat("format", format); err != nil {
		return "", err
	}
	ctx, logTimings := timing.Logged(ctx, os.Stderr)
	defer logTimings()
	c, err := m.start(ctx)
	if err != nil {
		return "", err
	}
	gs, err := c.gates(ctx, m.trivy())
	if err != nil {
		return "", err
	}
	b, err := c.Image(ctx, c.platform)
	if err != nil {
		return "", err
	}
	return writeReport(gates.Run(ctx, b, gs...), format, noFail)
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
	if err := report.CheckFormat("format", format); err != nil {
		return "", err
	}
	c, err := m.start(ctx)
	if err != nil {
		return "", err
	}
	cfg, err := c.choices.Gates.Smoke.Config()
	if err != nil {
		return "", err
	}
	native, err := nativePlatform(ctx)
	if err != nil {
		return "", err
	}
	b, err := c.Image(ctx, c.platform)
	if err != nil {
		return "", err
	}
	g := smoke.Gate{Runner: engine.Runner{E: c.Executor}, Config: cfg, Native: native}
	return writeReport(gates.Run(ctx, b, g), format, noFail)
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
	if err := report.CheckFormat("format", format, "sarif"); err != nil {
		return "", err
	}
	c, err := m.start(ctx)
	if err != nil {
		return "", err
	}
	lo, err := c.choices.Gates.Lint.Options()
	if err != nil {
		return "", err
	}
	f, err := engine.Linter{E: c.Executor}.Lint(ctx, lo)
	if err != nil {
		return "", err
	}
	r := &report.Report{Results: f.Results(lo.Policy)}
	if format != "sarif" {
		return writeReport(r, format, noFail)
	}
	b, err := f.SARIF(lo.Policy)
	if err != nil {
		return "", err
	}
	if err := r.Err(); err != nil && !noFail {
		return "", fmt.Errorf("%s\n%w", b, err)
	}
	return string(b), nil
}

// gates is the gate list of the call's choices (choices.Gates.List, as
// the CLI's) with the engine's runners: Trivy's image, go vet in the
// builder, the image as a service on the engine's own platform.
func (c *call) gates(ctx context.Context, t engine.Trivy) ([]gates.Gate, error) {
	r := choices.Runners{Scan: engine.Scanner{E: c.Executor, Trivy: t}, Lint: engine.Linter{E: c.Executor}}
	if c.choices.Gates.On("smoke") {
		native, err := nativePlatform(ctx)
		if err != nil {
			return nil, err
		}
		r.Smoke, r.Native = engine.Runner{E: c.Executor}, native
	}
	return c.choices.Gates.List(ctx, c.files, r)
}

// nativePlatform is the engine's own os/arch: a Dagger service runs it,
// never another, without emulation.
func nativePlatform(ctx context.Context) (string, error) {
	native, err := dag.DefaultPlatform(ctx)
	if err != nil {
		return "", fmt.Errorf("engine platform: %w", err)
	}
	p, err := recipe.ParsePlatform(string(native))
	if err != nil {
		return "", err
	}
	return p.OS + "/" + p.Arch, nil
}

// trivy is where the scan's Trivy and its DB come from.
func (m *GoImage) trivy() engine.Trivy {
	return engine.Trivy{Image: m.TrivyImage, DBRepository: m.TrivyDbRepository, DB: m.TrivyDb}
}

// scan builds the first platform's image and runs the scan gate alone,
// keeping Trivy's output; sarif also renders it as SARIF, with the ignore
// file applied.
func (m *GoImage) scan(ctx context.Context, sarif bool) (report.Result, scan.Output, error) {
	c, err := m.start(ctx)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	p, ignore, err := c.choices.Gates.Scan.Policy(ctx, c.files)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	s := engine.Scanner{E: c.Executor, Trivy: m.trivy(), SARIF: sarif}
	if ignore != "" {
		if s.IgnoreFile, err = c.files.File(ctx, ignore); err != nil {
			return report.Result{}, scan.Output{}, err
		}
	}
	b, err := c.Image(ctx, c.platform)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	var out scan.Output
	res, err := (&scan.Gate{Runner: s, Policy: p, Keep: func(o scan.Output) { out = o }}).Check(ctx, b)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	return res[0], out, nil
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
