package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/report"
)

func runLint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lint", stderr)
	src := fs.String("source", ".", "Go module root of the service (the directory with go.mod); all its packages are analysed")
	format := fs.String("format", "text", "report format: text, json, markdown, or sarif (SARIF 2.1.0 of the findings, for code scanning)")
	output := fs.String("output", "", "write the report to this file instead of stdout")
	noFail := fs.Bool("no-fail", false, "exit 0 even when an analyzer reports: report only")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *format != "sarif" {
		if err := checkFormat(*format); err != nil {
			return err
		}
	}
	dir, err := filepath.Abs(*src)
	if err != nil {
		return err
	}
	res, err := lint.Check(ctx, dir)
	if err != nil {
		return fmt.Errorf("lint %s: %w", *src, err)
	}
	r := &report.Report{Image: *src}
	r.Add(res...)
	return writeK8sReport(r, *format, *output, *noFail, stdout, stderr)
}
