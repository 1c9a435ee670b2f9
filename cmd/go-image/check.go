package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/policy"
	"dagger/go-image/internal/preflight"
	"dagger/go-image/internal/scan"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", stderr)
	image := fs.String("image", "", "image tarball to check (required), from go-image build --output or dagger call build export")
	maxSize := fs.String("max-size", policy.DefaultMaxSize, "compressed size budget (registry size): B, kB, MB, GB (decimal) or KiB, MiB, GiB")
	upxPolicy := fs.String("upx", policy.DefaultUPX, "UPX-packed binaries: deny (fail), warn (pass with a warning) or allow")
	var skip listFlag
	fs.Var(&skip, "skip", "skip a hardening check, id=reason (repeatable), e.g. --skip 'harden/no-setuid=base ships ping'")
	format := fs.String("format", "text", "report format: text, json or markdown")
	output := fs.String("output", "", "write the report to this file instead of stdout")
	noFail := fs.Bool("no-fail", false, "exit 0 even when a gate fails: report only")
	// [scan gate wiring, owner of internal/scan] --scan adds the vulnerability gate (flags as in `go-image scan`).
	withScan := fs.Bool("scan", false, "also run the vulnerability gate (needs trivy and its DB; see go-image scan -h)")
	sf := addScanFlags(fs)
	withSmoke := fs.Bool("smoke", false, "also run the smoke gate: start the image and check probes and SIGTERM handling (flags as in go-image smoke -h)")
	mf := addSmokeGateFlags(fs)
	lintSrc := fs.String("lint-source", "", "also run the lint gate (Kubernetes analyzers) over the Go module in this directory (the image's source)")
	lf := addLintFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *image == "" {
		return usageError{fmt.Errorf("--image is required: the image tarball to check, e.g. --image service.tar")}
	}
	switch *format {
	case "text", "json", "markdown", "md":
	default:
		return usageError{fmt.Errorf("--format %q: use text, json or markdown", *format)}
	}
	opts, err := policy.Parse(*maxSize, *upxPolicy, skip)
	if err != nil {
		return usageError{err}
	}
	if err := preflight.Writable("--output", *output); err != nil {
		return err
	}
	if *withScan {
		sp, _, err := sf.policy(".")
		if err != nil {
			return err
		}
		r, err := sf.runner(false, "", nil)
		if err != nil {
			return err
		}
		opts.Scan = &scan.Gate{Runner: r, Policy: sp}
	}
	lo, err := lf.options()
	if err != nil {
		return err
	}
	if *lintSrc != "" {
		dir, err := filepath.Abs(*lintSrc)
		if err != nil {
			return err
		}
		opts.Lint = lint.Gate{Dir: dir, Options: lo}
	}
	if *withSmoke {
		g, err := mf.gate()
		if err != nil {
			return err
		}
		opts.Smoke = g
	}
	img, err := imagefile.ReadContext(ctx, *image)
	if err != nil {
		return err
	}
	r := gates.Run(ctx, img, policy.Standard(opts)...)
	r.Image = *image
	var buf bytes.Buffer
	if err := r.Write(&buf, *format); err != nil {
		return err
	}
	if *output != "" {
		if err := os.WriteFile(*output, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		fmt.Fprintf(stderr, "go-image: wrote report to %s: %s\n", *output, r.Summary())
	} else if _, err := stdout.Write(buf.Bytes()); err != nil {
		return err
	}
	if err := r.Err(); err != nil && !*noFail {
		return err
	}
	return nil
}
