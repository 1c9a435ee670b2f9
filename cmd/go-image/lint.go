package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
)

func runLint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lint", stderr)
	var c choices.Choices
	b := newBinder(fs, &c)
	src := fs.String("source", ".", "Go module root of the service (the directory with go.mod); all its packages are analysed")
	format := fs.String("format", "text", "report format: text, json, markdown, or sarif (SARIF 2.1.0 of the findings, for code scanning; the same document as --sarif)")
	output := fs.String("output", "", "write the report to this file instead of stdout")
	sarif := fs.String("sarif", "", "also write the findings as SARIF 2.1.0 to this file, for code scanning (suppressed findings carry their justification)")
	noFail := fs.Bool("no-fail", false, "exit 0 even when an analyzer reports: report only")
	addLintFlags(b)
	cfgPath := configFlag(b)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := b.apply(); err != nil {
		return err
	}
	if err := report.CheckFormat("--format", *format, "sarif"); err != nil {
		return usageError{err}
	}
	if err := b.validate(); err != nil {
		return err
	}
	eff, err := sourceChoices(*cfgPath, *src, b)
	if err != nil {
		return err
	}
	o, err := eff.Gates.Lint.Options()
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(*src)
	if err != nil {
		return err
	}
	f, err := localLinter(dir, recipe.Options{}).Lint(ctx, o)
	if err != nil {
		return fmt.Errorf("lint %s: %w", *src, err)
	}
	if *sarif != "" {
		data, err := f.SARIF(o.Policy)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*sarif, data, 0o644); err != nil {
			return fmt.Errorf("--sarif: %w", err)
		}
	}
	r := &report.Report{Image: *src}
	r.Add(f.Results(o.Policy)...)
	if *format == "sarif" {
		data, err := f.SARIF(o.Policy)
		if err != nil {
			return err
		}
		return writeRendered(r, data, *output, *noFail, stdout, stderr)
	}
	return writeK8sReport(r, *format, *output, *noFail, stdout, stderr)
}

// localLinter lints dir in process with the compile's package
// configuration for o (recipe.Options.Packages; the default platform when o
// names none), so that the lint reads the export data the compile left in
// the build cache, and analyses the code the recipe builds.
func localLinter(dir string, o recipe.Options) lint.Local {
	if o.Platform == "" {
		o.Platform = recipe.DefaultPlatform
	}
	pk := o.Packages()
	return lint.Local{Dir: dir, Build: lint.Build{Flags: pk.Args, Env: pk.Env}}
}

// addLintFlags binds the lint gate's flags, shared by lint, check and release.
func addLintFlags(b *binder) {
	l, d := &b.c.Gates.Lint, choices.Default().Gates.Lint
	bind(b, &l.Policy, "lint-policy", "", "lint severity per analyzer, e.g. httpshutdown=deny,k8swatchcancel=warn (default: every analyzer denies); a warned finding is reported and does not block", b.fs.StringVar)
	bind(b, &l.OperationalRoutes, "lint-operational-routes", *d.OperationalRoutes, "healthmux: comma-separated path prefixes of operational routes (metrics, pprof, status) that may share a mux with probes; /metrics counts only when served by promhttp", b.fs.StringVar)
}
