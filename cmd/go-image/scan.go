package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/local"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/trivy"
)

// scanRunnerFlags say where Trivy and its DB are; the scan policy's
// flags are bound into the choices. Shared by every command that scans.
type scanRunnerFlags struct {
	trivy    string
	cacheDir string
}

func addScanFlags(b *binder) *scanRunnerFlags {
	sc, d := &b.c.Gates.Scan, choices.Default().Gates.Scan
	bind(b, &sc.Severity, "severity", *d.Severity, "severities that fail the gate: a list (HIGH,CRITICAL) or a minimum (HIGH = HIGH and above)", b.fs.StringVar)
	bind(b, &sc.IgnoreUnfixed, "ignore-unfixed", false, "ignore vulnerabilities that have no fixed version", b.fs.BoolVar)
	bind(b, &sc.IgnoreFile, "ignorefile", "", "accepted vulnerability IDs in .trivyignore format (default: "+choices.DefaultIgnoreFile+" in the current directory, for release in --source, when present)", b.pathVar)
	s := &scanRunnerFlags{}
	pathVar(b.fs, &s.trivy, "trivy", "", "trivy binary (default: $GOIMAGE_TRIVY, trivy on PATH, then ci/install-tools.sh's directory)")
	pathVar(b.fs, &s.cacheDir, "cache-dir", trivy.DefaultCacheDir(), "Trivy cache directory holding the vulnerability DB (db/trivy.db, db/metadata.json); never downloaded")
	return s
}

// runner finds trivy; sarif asks it for a SARIF rendering too, with the
// ignore file applied.
func (s *scanRunnerFlags) runner(sarif bool, ignoreFile string, log io.Writer) (*trivy.Runner, error) {
	bin, err := trivy.Find(s.trivy)
	if err != nil {
		return nil, err
	}
	return &trivy.Runner{Binary: bin, CacheDir: s.cacheDir, SARIF: sarif, IgnoreFile: ignoreFile, Log: log}, nil
}

func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("scan", stderr)
	var c choices.Choices
	b := newBinder(fs, &c)
	image := fs.String("image", "", "image tarball to scan (required), e.g. from go-image build --output")
	jsonOut := fs.String("json", "", "write Trivy's JSON report (all findings, before go-image's policy) to this file")
	sarifOut := fs.String("sarif", "", "write the findings as SARIF 2.1.0 (ignore file applied) to this file, for code scanning")
	format := fs.String("format", "text", "go-image report format on stdout: text, json or markdown")
	noFail := fs.Bool("no-fail", false, "exit 0 even when the gate fails (the report still says FAIL)")
	verbose := fs.Bool("v", false, "show Trivy's log")
	sf := addScanFlags(b)
	pol := imagePolicyFlags(b)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := b.apply(); err != nil {
		return err
	}
	if *image == "" {
		return usageError{errors.New("--image is required: the image tarball to scan, e.g. --image service.tar")}
	}
	if err := report.CheckFormat("--format", *format); err != nil {
		return usageError{err}
	}
	if err := b.validate(); err != nil {
		return err
	}
	eff := c
	var set []report.Setting
	if *pol.config != "" || *pol.binary != "" {
		img, err := imagefile.Read(*image)
		if err != nil {
			return err
		}
		if eff, set, err = imageChoices(pol, img, b); err != nil {
			return err
		}
	}
	policy, ignoreFile, err := eff.Gates.Scan.Policy(ctx, local.Files{Root: "."})
	if err != nil {
		return b.named(err)
	}
	var log io.Writer
	if *verbose {
		log = stderr
	}
	r, err := sf.runner(*sarifOut != "", ignoreFile, log)
	if err != nil {
		return err
	}
	var keepErr error
	g := &scan.Gate{Runner: r, Policy: policy, Keep: func(o scan.Output) {
		keepErr = writeOutputs(o, *jsonOut, *sarifOut)
	}}
	// Trivy scans the image the other gates read, written out again by the
	// gate, never the file given.
	img, err := imagefile.ReadContext(ctx, *image)
	if err != nil {
		return err
	}
	// Protect: a crash parsing Trivy's output fails the gate, with a report.
	res, err := gates.Protect("scan", func() ([]report.Result, error) { return g.Check(ctx, img) })
	if err != nil {
		return fmt.Errorf("scan %s: %w", *image, err)
	}
	if keepErr != nil {
		return keepErr
	}
	rep := &report.Report{Image: *image, Results: res, Settings: set}
	if err := rep.Write(stdout, *format); err != nil {
		return err
	}
	if *noFail {
		return nil
	}
	return rep.Err()
}

func writeOutputs(o scan.Output, jsonPath, sarifPath string) error {
	if jsonPath != "" {
		if err := os.WriteFile(jsonPath, o.JSON, 0o644); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	if sarifPath != "" {
		if err := os.WriteFile(sarifPath, o.SARIF, 0o644); err != nil {
			return fmt.Errorf("--sarif: %w", err)
		}
	}
	return nil
}
