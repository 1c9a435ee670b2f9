package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/smoke"
)

func runSmoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("smoke", stderr)
	var c choices.Choices
	b := newBinder(fs, &c)
	image := fs.String("image", "", "image tarball to run (required), from go-image build --output")
	sf := addSmokeGateFlags(b)
	format := fs.String("format", "text", "report format: text, json or markdown")
	output := fs.String("output", "", "write the report to this file instead of stdout")
	noFail := fs.Bool("no-fail", false, "exit 0 even when a check fails: report only")
	pol := imagePolicyFlags(b)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := b.apply(); err != nil {
		return err
	}
	if *image == "" {
		return usageError{fmt.Errorf("--image is required: the image tarball to run, e.g. --image service.tar")}
	}
	if err := report.CheckFormat("--format", *format); err != nil {
		return usageError{err}
	}
	if err := b.validate(); err != nil {
		return err
	}
	runner, err := sf.runner()
	if err != nil {
		return err
	}
	img, err := imagefile.ReadContext(ctx, *image)
	if err != nil {
		return err
	}
	eff, set, err := imageChoices(pol, img, b)
	if err != nil {
		return err
	}
	cfg, err := eff.Gates.Smoke.Config()
	if err != nil {
		return err
	}
	r := gates.Run(ctx, img, smoke.Gate{Runner: runner, Config: cfg, Native: native})
	r.Image, r.Settings = *image, set
	return writeK8sReport(r, *format, *output, *noFail, stdout, stderr)
}

// smokeRunnerFlags choose the smoke gate's runner; its configuration is
// bound into the choices. Shared by smoke, check --smoke and release.
type smokeRunnerFlags struct {
	name        string
	noIsolation bool // removed; kept to say so
}

func addSmokeGateFlags(b *binder) *smokeRunnerFlags {
	addSmokeFlags(b)
	s := &smokeRunnerFlags{}
	b.fs.StringVar(&s.name, "runner", "process", "smoke runner: process: extract the image and run its entrypoint in a sandbox (own user, mount, PID and network namespaces, never root, no capabilities, read-only root; needs user namespaces); runc: run it under runc (root, package runc) in its own namespaces, read-only root, no capabilities")
	b.fs.BoolVar(&s.noIsolation, "no-isolation", false, "removed: the smoke gate always runs the image in its sandbox")
	return s
}

// native is the platform both local runners start images on: this machine's.
const native = runtime.GOOS + "/" + runtime.GOARCH

// runner is the smoke runner the flags name.
func (s *smokeRunnerFlags) runner() (smoke.Runner, error) {
	if s.noIsolation {
		return nil, usageError{fmt.Errorf("--no-isolation was removed: the image under test always runs in the smoke sandbox (its own user, mount, PID and network namespaces, never as root), so that it cannot read the release's secrets or write on the host; where user namespaces are not available, use --runner runc as root, or switch the gate off with --no-smoke REASON")}
	}
	switch s.name {
	case "process":
		return smoke.ProcessRunner{}, nil
	case "runc":
		if why := smoke.RuncAvailable(); why != "" {
			return nil, fmt.Errorf("--runner runc: %s; or use --runner process", why)
		}
		return smoke.RuncRunner{}, nil
	}
	return nil, usageError{fmt.Errorf("--runner %q: use process or runc", s.name)}
}

// addSmokeFlags binds the smoke configuration, defaulted for go-image's
// example service.
func addSmokeFlags(b *binder) {
	s, c := &b.c.Gates.Smoke, smoke.DefaultConfig()
	fs := b.fs
	bind(b, &s.BusinessPort, "business-port", c.BusinessPort, "port the service serves business traffic on (when --business-env is empty)", fs.IntVar)
	bind(b, &s.ProbePort, "probe-port", c.ProbePort, "port the service serves probes on (when --probe-env is empty); must differ from --business-port", fs.IntVar)
	bind(b, &s.HealthPath, "health-path", c.HealthPath, "liveness endpoint on the probe port", fs.StringVar)
	bind(b, &s.ReadyPath, "ready-path", c.ReadyPath, "readiness endpoint on the probe port; empty disables the readiness checks", fs.StringVar)
	bind(b, &s.SlowPath, "slow-path", c.SlowPath, "business request in flight when SIGTERM is sent; empty sends SIGTERM to an idle service", fs.StringVar)
	b.duration(&s.StartupBudget, "startup-budget", c.StartupBudget, "how long the health endpoint may take to answer 200 after start")
	b.duration(&s.Grace, "grace", c.Grace, "termination grace period: the process must exit this long after SIGTERM at the latest")
	bind(b, &s.BusinessEnv, "business-env", c.BusinessEnv, "how the service is told its business port: NAME (NAME=127.0.0.1:PORT) or NAME=VALUE with {port}, e.g. PORT={port}; empty: the fixed --business-port", fs.StringVar)
	bind(b, &s.ProbeEnv, "probe-env", c.ProbeEnv, "how the service is told its probe port, like --business-env; empty: the fixed --probe-port", fs.StringVar)
}

// writeK8sReport writes the report to output (or stdout) and returns the
// gate error unless noFail.
func writeK8sReport(r *report.Report, format, output string, noFail bool, stdout, stderr io.Writer) error {
	var buf bytes.Buffer
	if err := r.Write(&buf, format); err != nil {
		return err
	}
	return writeRendered(r, buf.Bytes(), output, noFail, stdout, stderr)
}

// writeRendered writes r, already rendered as data (a report, or the
// findings' SARIF), to output or stdout, and fails when r failed.
func writeRendered(r *report.Report, data []byte, output string, noFail bool, stdout, stderr io.Writer) error {
	if output != "" {
		if err := os.WriteFile(output, data, 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		fmt.Fprintf(stderr, "go-image: wrote report to %s: %s\n", output, r.Summary())
	} else if _, err := stdout.Write(data); err != nil {
		return err
	}
	if err := r.Err(); err != nil && !noFail {
		return err
	}
	return nil
}
