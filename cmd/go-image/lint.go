package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/report"
)

func runLint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lint", stderr)
	src := fs.String("source", ".", "Go module root of the service (the directory with go.mod); all its packages are analysed")
	format := fs.String("format", "text", "report format: text, json, markdown, or sarif (SARIF 2.1.0 of the findings, for code scanning; the same document as --sarif)")
	output := fs.String("output", "", "write the report to this file instead of stdout")
	sarif := fs.String("sarif", "", "also write the findings as SARIF 2.1.0 to this file, for code scanning (suppressed findings carry their justification)")
	noFail := fs.Bool("no-fail", false, "exit 0 even when an analyzer reports: report only")
	lf := addLintFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *format != "sarif" {
		if err := checkFormat(*format); err != nil {
			return err
		}
	}
	o, err := lf.options()
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(*src)
	if err != nil {
		return err
	}
	findings, npkgs, err := lint.Run(ctx, dir, o)
	if err != nil {
		return fmt.Errorf("lint %s: %w", *src, err)
	}
	if *sarif != "" {
		b, err := lint.SARIF(dir, lint.Analyzers(), findings, o.Policy)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*sarif, b, 0o644); err != nil {
			return fmt.Errorf("--sarif: %w", err)
		}
	}
	r := &report.Report{Image: *src}
	r.Add(o.Policy.Results(dir, npkgs, lint.Analyzers(), findings)...)
	if *format == "sarif" {
		b, err := lint.SARIF(dir, lint.Analyzers(), findings, o.Policy)
		if err != nil {
			return err
		}
		return writeRendered(r, b, *output, *noFail, stdout, stderr)
	}
	return writeK8sReport(r, *format, *output, *noFail, stdout, stderr)
}

// lintFlags are the lint gate's settings, shared by lint, check and release.
type lintFlags struct{ policy, operational string }

func addLintFlags(fs *flag.FlagSet) *lintFlags {
	l := &lintFlags{}
	fs.StringVar(&l.policy, "lint-policy", "", "lint severity per analyzer, e.g. httpshutdown=deny,k8swatchcancel=warn (default: every analyzer denies); a warned finding is reported and does not block")
	fs.StringVar(&l.operational, "lint-operational-routes", lint.DefaultOperational, "healthmux: comma-separated path prefixes of operational routes (metrics, pprof, status) that may share a mux with probes; /metrics counts only when served by promhttp")
	return l
}

func (l *lintFlags) options() (lint.Options, error) {
	p, err := lint.ParsePolicy(l.policy)
	if err != nil {
		return lint.Options{}, usageError{fmt.Errorf("--lint-policy: %w", err)}
	}
	o := lint.Options{Policy: p}
	if l.operational != lint.DefaultOperational {
		o.Operational = l.operational
	}
	return o, nil
}
