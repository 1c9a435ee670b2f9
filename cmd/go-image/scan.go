package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/trivy"
)

// scanFlags are the vulnerability gate's options, shared with any command
// that runs the gate.
type scanFlags struct {
	severity      string
	ignoreUnfixed bool
	ignoreFile    string
	trivy         string
	cacheDir      string
}

func addScanFlags(fs *flag.FlagSet) *scanFlags {
	s := &scanFlags{}
	fs.StringVar(&s.severity, "severity", scan.DefaultSeverity, "severities that fail the gate: a list (HIGH,CRITICAL) or a minimum (HIGH = HIGH and above)")
	fs.BoolVar(&s.ignoreUnfixed, "ignore-unfixed", false, "ignore vulnerabilities that have no fixed version")
	fs.StringVar(&s.ignoreFile, "ignorefile", "", "accepted vulnerability IDs in .trivyignore format (default: .trivyignore in the current directory, for release in --source, when present)")
	fs.StringVar(&s.trivy, "trivy", "", "trivy binary (default: $GOIMAGE_TRIVY, trivy on PATH, then ci/install-tools.sh's directory)")
	fs.StringVar(&s.cacheDir, "cache-dir", trivy.DefaultCacheDir(), "Trivy cache directory holding the vulnerability DB (db/trivy.db, db/metadata.json); never downloaded")
	return s
}

// policy reads the flags into the gate's policy; the ignore file path is
// returned too, for Trivy's SARIF rendering. Without --ignorefile, dir's
// .trivyignore is used when present: the current directory for commands
// that read a tarball, the --source of a release.
func (s *scanFlags) policy(dir string) (scan.Policy, string, error) {
	sev, err := scan.ParseSeverity(s.severity)
	if err != nil {
		return scan.Policy{}, "", usageError{fmt.Errorf("--severity: %w", err)}
	}
	p := scan.Policy{Severities: sev, IgnoreUnfixed: s.ignoreUnfixed}
	path := s.ignoreFile
	if path == "" {
		// Like Trivy, pick up .trivyignore when nobody names a file.
		def := filepath.Join(dir, ".trivyignore")
		if _, err := os.Stat(def); err == nil {
			path = def
		} else if !errors.Is(err, fs.ErrNotExist) {
			return p, "", err
		}
	}
	if path != "" {
		if p.Ignore, err = scan.ReadIgnoreFile(path); err != nil {
			return p, "", err
		}
	}
	return p, path, nil
}

// runner finds trivy; sarif asks it for a SARIF rendering too.
func (s *scanFlags) runner(sarif bool, ignoreFile string, log io.Writer) (*trivy.Runner, error) {
	bin, err := trivy.Find(s.trivy)
	if err != nil {
		return nil, err
	}
	return &trivy.Runner{Binary: bin, CacheDir: s.cacheDir, SARIF: sarif, IgnoreFile: ignoreFile, Log: log}, nil
}

func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("scan", stderr)
	image := fs.String("image", "", "image tarball to scan (required), e.g. from go-image build --output")
	jsonOut := fs.String("json", "", "write Trivy's JSON report (all findings, before go-image's policy) to this file")
	sarifOut := fs.String("sarif", "", "write the findings as SARIF 2.1.0 (ignore file applied) to this file, for code scanning")
	format := fs.String("format", "text", "go-image report format on stdout: text, json or markdown")
	noFail := fs.Bool("no-fail", false, "exit 0 even when the gate fails (the report still says FAIL)")
	verbose := fs.Bool("v", false, "show Trivy's log")
	sf := addScanFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *image == "" {
		return usageError{errors.New("--image is required: the image tarball to scan, e.g. --image service.tar")}
	}
	if *format != "text" && *format != "json" && *format != "markdown" && *format != "md" {
		return usageError{fmt.Errorf("--format %q: use text, json or markdown", *format)}
	}
	policy, ignoreFile, err := sf.policy(".")
	if err != nil {
		return err
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
	res, err := g.Check(ctx, img)
	if err != nil {
		return fmt.Errorf("scan %s: %w", *image, err)
	}
	if keepErr != nil {
		return keepErr
	}
	rep := &report.Report{Image: *image, Results: res}
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
