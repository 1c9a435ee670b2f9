package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/smoke"
)

func runSmoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("smoke", stderr)
	image := fs.String("image", "", "image tarball to run (required), from go-image build --output")
	sf := addSmokeGateFlags(fs)
	format := fs.String("format", "text", "report format: text, json or markdown")
	output := fs.String("output", "", "write the report to this file instead of stdout")
	noFail := fs.Bool("no-fail", false, "exit 0 even when a check fails: report only")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *image == "" {
		return usageError{fmt.Errorf("--image is required: the image tarball to run, e.g. --image service.tar")}
	}
	if err := checkFormat(*format); err != nil {
		return err
	}
	g, err := sf.gate()
	if err != nil {
		return err
	}
	img, err := imagefile.ReadContext(ctx, *image)
	if err != nil {
		return err
	}
	r := gates.Run(ctx, img, g)
	r.Image = *image
	return writeK8sReport(r, *format, *output, *noFail, stdout, stderr)
}

// smokeGateFlags are the smoke gate's options (configuration and runner),
// shared by smoke, check --smoke and release.
type smokeGateFlags struct {
	cfg         *smoke.Config
	runner      string
	noIsolation bool
}

func addSmokeGateFlags(fs *flag.FlagSet) *smokeGateFlags {
	s := &smokeGateFlags{cfg: addSmokeFlags(fs)}
	fs.StringVar(&s.runner, "runner", "process", "smoke runner: process: extract the image and run its entrypoint as a local process (chroot and the image's user when root); runc: run it under runc (root, package runc) in its own namespaces, read-only root, no capabilities")
	fs.BoolVar(&s.noIsolation, "no-isolation", false, "process runner: as root, still run without chroot and as the current user")
	return s
}

// gate validates the flags and returns the smoke gate.
// native is the platform both local runners start images on: this machine's.
const native = runtime.GOOS + "/" + runtime.GOARCH

func (s *smokeGateFlags) gate() (smoke.Gate, error) {
	if err := s.cfg.Validate(); err != nil {
		return smoke.Gate{}, usageError{err}
	}
	switch s.runner {
	case "process":
		return smoke.Gate{Runner: smoke.ProcessRunner{NoIsolation: s.noIsolation}, Config: *s.cfg, Native: native}, nil
	case "runc":
		if why := smoke.RuncAvailable(); why != "" {
			return smoke.Gate{}, fmt.Errorf("--runner runc: %s; or use --runner process", why)
		}
		return smoke.Gate{Runner: smoke.RuncRunner{}, Config: *s.cfg, Native: native}, nil
	}
	return smoke.Gate{}, usageError{fmt.Errorf("--runner %q: use process or runc", s.runner)}
}

// addSmokeFlags registers the smoke configuration, defaulted for go-image's
// example service.
func addSmokeFlags(fs *flag.FlagSet) *smoke.Config {
	c := smoke.DefaultConfig()
	fs.IntVar(&c.BusinessPort, "business-port", c.BusinessPort, "port the service serves business traffic on (when --business-env is empty)")
	fs.IntVar(&c.ProbePort, "probe-port", c.ProbePort, "port the service serves probes on (when --probe-env is empty); must differ from --business-port")
	fs.StringVar(&c.HealthPath, "health-path", c.HealthPath, "liveness endpoint on the probe port")
	fs.StringVar(&c.ReadyPath, "ready-path", c.ReadyPath, "readiness endpoint on the probe port; empty disables the readiness checks")
	fs.StringVar(&c.SlowPath, "slow-path", c.SlowPath, "business request in flight when SIGTERM is sent; empty sends SIGTERM to an idle service")
	fs.DurationVar(&c.StartupBudget, "startup-budget", c.StartupBudget, "how long the health endpoint may take to answer 200 after start")
	fs.DurationVar(&c.Grace, "grace", c.Grace, "termination grace period: the process must exit this long after SIGTERM at the latest")
	fs.StringVar(&c.BusinessEnv, "business-env", c.BusinessEnv, "how the service is told its business port: NAME (NAME=127.0.0.1:PORT) or NAME=VALUE with {port}, e.g. PORT={port}; empty: the fixed --business-port")
	fs.StringVar(&c.ProbeEnv, "probe-env", c.ProbeEnv, "how the service is told its probe port, like --business-env; empty: the fixed --probe-port")
	return &c
}

func checkFormat(format string) error {
	switch format {
	case "text", "json", "markdown", "md":
		return nil
	}
	return usageError{fmt.Errorf("--format %q: use text, json or markdown", format)}
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
