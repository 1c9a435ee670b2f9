package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/local"
	"dagger/go-image/internal/preflight"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", stderr)
	var c choices.Choices
	b := newBinder(fs, &c)
	image := fs.String("image", "", "image tarball to check (required), from go-image build --output or dagger call build export")
	addGateFlags(b, "compressed size budget (registry size): B, kB, MB, GB (decimal) or KiB, MiB, GiB", "UPX-packed binaries: deny (fail), warn (pass with a warning) or allow")
	format := fs.String("format", "text", "report format: text, json or markdown")
	output := fs.String("output", "", "write the report to this file instead of stdout")
	noFail := fs.Bool("no-fail", false, "exit 0 even when a gate fails: report only")
	// scan, smoke and lint run on request: they need trivy, a runnable
	// image and the source, which a tarball alone does not bring.
	withScan := fs.Bool("scan", false, "also run the vulnerability gate (needs trivy and its DB; see go-image scan -h)")
	sf := addScanFlags(b)
	withSmoke := fs.Bool("smoke", false, "also run the smoke gate: start the image and check probes and SIGTERM handling (flags as in go-image smoke -h)")
	mf := addSmokeGateFlags(b)
	lintSrc := fs.String("lint-source", "", "also run the lint gate (Kubernetes analyzers) over the Go module in this directory (the image's source)")
	addLintFlags(b)
	tf := addTimingsFlag(fs)
	pol := imagePolicyFlags(b)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := b.apply(); err != nil {
		return err
	}
	if *image == "" {
		return usageError{fmt.Errorf("--image is required: the image tarball to check, e.g. --image service.tar")}
	}
	if err := report.CheckFormat("--format", *format); err != nil {
		return usageError{err}
	}
	if err := b.validate(); err != nil {
		return err
	}
	ctx, printTimings := tf.start(ctx, stderr)
	defer printTimings()
	if err := preflight.Writable("--output", *output); err != nil {
		return err
	}
	var r choices.Runners
	var err error
	if *withScan {
		if r.Scan, err = sf.runner(false, "", nil); err != nil {
			return err
		}
	}
	if *lintSrc != "" {
		dir, err := filepath.Abs(*lintSrc)
		if err != nil {
			return err
		}
		r.Lint = localLinter(dir, recipe.Options{})
	}
	if *withSmoke {
		if r.Smoke, err = mf.runner(); err != nil {
			return err
		}
		r.Native = native
	}
	img, err := imagefile.ReadContext(ctx, *image)
	if err != nil {
		return err
	}
	eff, set, err := imageChoices(pol, img, b)
	if err != nil {
		return err
	}
	gs, err := eff.Gates.List(ctx, local.Files{Root: "."}, r)
	if err != nil {
		return b.named(err)
	}
	rep := gates.Run(ctx, img, gs...)
	rep.Image, rep.Settings = *image, set
	return writeK8sReport(rep, *format, *output, *noFail, stdout, stderr)
}
