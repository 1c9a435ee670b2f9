package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/engine"
	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/plan"
	"dagger/go-image/internal/policy"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/timing"
)

// Check builds the image of every binary and runs every gate on each, in
// the order and with the choices Release uses: size, scan, upx, harden,
// lint, smoke. It returns the report (with several binaries, each one's
// and a summary table), and fails when a check fails unless noFail is set.
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
	return m.run(ctx, format, noFail)
}

// Size runs the size gate on every binary's image: the image as a registry
// stores it must fit the budget (with-max-size). A dagger check of a
// module that installed go-image.
// +check
// +cache="never"
func (m *GoImage) Size(
	ctx context.Context,
	// Report format: text, json or markdown.
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when a check fails.
	// +optional
	noFail bool,
) (string, error) {
	return m.run(ctx, format, noFail, "size")
}

// Upx runs the UPX gate on every binary's image: a UPX-packed binary fails
// under the deny policy (with-upx). A dagger check.
// +check
// +cache="never"
func (m *GoImage) Upx(
	ctx context.Context,
	// Report format: text, json or markdown.
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when a check fails.
	// +optional
	noFail bool,
) (string, error) {
	return m.run(ctx, format, noFail, "upx")
}

// Harden runs the hardening checks on every binary's image: non-root user,
// exec-form entrypoint, static and stripped binary, CA bundle, no
// toolchain, source, setuid or world-writable file (without-check skips
// one with a reason). A dagger check.
// +check
// +cache="never"
func (m *GoImage) Harden(
	ctx context.Context,
	// Report format: text, json or markdown.
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when a check fails.
	// +optional
	noFail bool,
) (string, error) {
	return m.run(ctx, format, noFail, "harden")
}

// Scan builds every binary's image and runs the vulnerability gate alone:
// Trivy scans the image tarball and go-image's policy (the same Go code as
// `go-image scan`) decides. A failing gate is an error carrying the
// report; a gate switched off (without-scan, or go-image.yaml) is reported
// skipped. A dagger check.
// +check
// +cache="never"
func (m *GoImage) Scan(ctx context.Context) (string, error) {
	return m.run(ctx, "text", false, "scan")
}

// ScanReport runs the same scan and returns the files to upload, without
// failing when the gate does: trivy.json (every finding, before go-image's
// policy), trivy.sarif (SARIF 2.1.0, ignore file applied, for code
// scanning) and go-image-scan.json (go-image's verdict). One main package
// only.
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

// Smoke builds every binary's image, runs it as a Dagger service and
// checks what a Kubernetes pod needs from it, with the CLI's driver: the
// health path answers 200 on the probe port within the start-up budget,
// the business port does not serve it, the ready path answers 200 only
// once the business port accepts, and on SIGTERM readiness turns 503, the
// in-flight request completes and the service stops within the grace
// period. The exit status is not visible through Dagger. A dagger check.
// +check
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
	return m.run(ctx, format, noFail, "smoke")
}

// Lint runs go-image's Kubernetes analyzers (clients built per request,
// uncancellable watches and informers, servers that cannot drain, health
// routes on the business mux) over every package of the source, as
// `go vet -vettool=k8slint` in the builder. Same checks as `go-image lint`.
// A dagger check; switched off (without-lint, or go-image.yaml), it
// reports lint/off skipped.
// +check
// +cache="never"
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
	g := c.top.Gates
	if !g.On("lint") && format != "sarif" {
		res, err := policy.Off{Gate: "lint", Reason: g.Off["lint"]}.Check(ctx, nil)
		if err != nil {
			return "", err
		}
		return writeReport(&report.Report{Results: res}, format, noFail)
	}
	lo, err := g.Lint.Options()
	if err != nil {
		return "", err
	}
	f, err := engine.Linter{E: c.bins[0].Executor}.Lint(ctx, lo)
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

// run builds every binary's image and runs the gates named (every gate
// when none) on each, with each binary's choices, jobs images at a time.
// One binary gives its report; several give each one's and a summary.
func (m *GoImage) run(ctx context.Context, format string, noFail bool, only ...string) (string, error) {
	if err := report.CheckFormat("format", format); err != nil {
		return "", err
	}
	ctx, logTimings := timing.Logged(ctx, os.Stderr)
	defer logTimings()
	c, err := m.start(ctx)
	if err != nil {
		return "", err
	}
	want := func(gate string) bool { return len(only) == 0 || slices.Contains(only, gate) }
	r, err := c.runners(ctx, m.trivy(), want)
	if err != nil {
		return "", err
	}
	// Every list first: a missing ignore file fails before the build.
	lists := make([][]gates.Gate, len(c.bins))
	for i, b := range c.bins {
		gs, err := b.Choices.Gates.List(ctx, c.files, r)
		if err != nil {
			return "", err
		}
		for _, g := range gs {
			if want(g.Name()) {
				lists[i] = append(lists[i], g)
			}
		}
	}
	built, err := c.images(ctx)
	if err != nil {
		return "", err
	}
	reps := make([]*report.Report, len(c.bins))
	var eg errgroup.Group
	eg.SetLimit(c.limit())
	for i, b := range c.bins {
		eg.Go(func() error {
			reps[i] = gates.Run(ctx, built[i], lists[i]...)
			reps[i].Settings = b.ReportSettings()
			return nil
		})
	}
	_ = eg.Wait()
	if len(reps) == 1 {
		return writeReport(reps[0], format, noFail)
	}
	imgs := make(report.Images, len(c.bins))
	for i, b := range c.bins {
		d, err := built[i].Digest()
		if err != nil {
			return "", err
		}
		imgs[i] = report.Image{Name: b.Name, Digest: d.String(), Report: reps[i]}
	}
	return writeReport(imgs, format, noFail)
}

// limit is how many binaries run at once: the jobs argument, else the
// engine's core count.
func (c *call) limit() int {
	if c.jobs > 0 {
		return c.jobs
	}
	return runtime.NumCPU()
}

// runners are the engine's runners of the gates some binary runs (and
// want asks for): Trivy's image, go vet in the builder, the image as a
// service on the engine's own platform; shared by the binaries (one lint,
// one Trivy at a time).
func (c *call) runners(ctx context.Context, t engine.Trivy, want func(string) bool) (choices.Runners, error) {
	bins := make([]plan.Binary, len(c.bins))
	for i, b := range c.bins {
		bins[i] = b.Binary
	}
	on := func(gate string) bool { return want(gate) && plan.On(bins, gate) }
	e := c.bins[0].Executor
	var r choices.Runners
	if on("scan") {
		r.Scan = engine.Scanner{E: e, Trivy: t}
	}
	if on("lint") {
		r.Lint = engine.Linter{E: e}
	}
	if on("smoke") {
		native, err := nativePlatform(ctx)
		if err != nil {
			return r, err
		}
		r.Smoke, r.Native = engine.Runner{E: e}, native
	}
	return plan.Shared(r), nil
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
	call, err := m.start(ctx)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	c, err := call.one("scan-report")
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	files := call.files
	p, ignore, err := c.Choices.Gates.Scan.Policy(ctx, files)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	s := engine.Scanner{E: c.Executor, Trivy: m.trivy(), SARIF: sarif}
	if ignore != "" {
		if s.IgnoreFile, err = files.File(ctx, ignore); err != nil {
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

// rendered is a report of one image or of several (report.Images).
type rendered interface {
	Write(w io.Writer, format string) error
	Err() error
}

// writeReport renders r and fails when a check failed, unless noFail.
func writeReport(r rendered, format string, noFail bool) (string, error) {
	var b strings.Builder
	if err := r.Write(&b, format); err != nil {
		return "", err
	}
	if err := r.Err(); err != nil && !noFail {
		return "", fmt.Errorf("%s\n%w", b.String(), err)
	}
	return b.String(), nil
}
