// Package trivy runs a local Trivy binary for the CLI's scan gate: offline,
// against a vulnerability DB that is already in the cache directory, with
// every setting that could change the findings fixed by go-image. The
// verdict is not Trivy's: internal/scan evaluates the JSON report.
package trivy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"dagger/go-image/internal/childenv"
	"dagger/go-image/internal/limits"
	"dagger/go-image/internal/safetext"
	"dagger/go-image/internal/scan"
)

// PinnedVersion is the Trivy release go-image is tested with: the one
// ci/install-tools.sh builds and the Dagger module runs as
// aquasec/trivy:<version without v>. Its DB schema is trivy-db's
// SchemaVersion 2 (trivy-db v0.0.0-20250929072116-eba1ced2340a).
const PinnedVersion = "v0.67.2"

// DefaultImage is PinnedVersion as the upstream image, which the Dagger
// module runs.
const DefaultImage = "aquasec/trivy:0.67.2"

// DBSchemaVersion is the vulnerability DB schema PinnedVersion reads.
const DBSchemaVersion = 2

// InstallHint is how to get the pinned Trivy without downloading a binary.
const InstallHint = "build it with ci/install-tools.sh (builds into ${GOIMAGE_TOOLS:-$HOME/.cache/go-image/tools}/bin, ~11 min cold), " +
	"or: GOEXPERIMENT=jsonv2 GOFLAGS=-mod=mod go install github.com/aquasecurity/trivy/cmd/trivy@" + PinnedVersion +
	"; then pass --trivy PATH or set GOIMAGE_TRIVY"

// DBHint is how to provide a vulnerability DB to an offline scan.
const DBHint = "go-image scans offline and never downloads the DB: on a connected machine run " +
	"`trivy image --download-db-only --cache-dir DIR` (Trivy " + PinnedVersion + ", DB schema 2) and copy DIR here, " +
	"or mount a cache that holds db/trivy.db and db/metadata.json, and pass it with --cache-dir DIR"

// Find locates the trivy binary: the explicit path if given, else
// $GOIMAGE_TRIVY, else trivy on PATH, else where ci/install-tools.sh puts it.
func Find(explicit string) (string, error) {
	check := func(p, from string) (string, error) {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("trivy binary %s (from %s): %w; %s", p, from, err, InstallHint)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("trivy binary %s (from %s) is not an executable file; %s", p, from, InstallHint)
		}
		// Trivy runs in a temporary directory, where exec would resolve a
		// relative path such as bin/trivy.
		return filepath.Abs(p)
	}
	if explicit != "" {
		return check(explicit, "--trivy")
	}
	if p := os.Getenv("GOIMAGE_TRIVY"); p != "" {
		return check(p, "GOIMAGE_TRIVY")
	}
	if p, err := exec.LookPath("trivy"); err == nil {
		return p, nil
	}
	if p := toolsBin(); p != "" {
		if _, err := os.Stat(p); err == nil {
			return check(p, "ci/install-tools.sh's directory")
		}
	}
	return "", fmt.Errorf("trivy binary not found (no --trivy, no GOIMAGE_TRIVY, none on PATH): %s", InstallHint)
}

// toolsBin is where ci/install-tools.sh installs trivy.
func toolsBin() string {
	dir := os.Getenv("GOIMAGE_TOOLS")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".cache", "go-image", "tools")
	}
	return filepath.Join(dir, "bin", "trivy")
}

// DefaultCacheDir is Trivy's own default cache directory, so a DB fetched
// with plain `trivy image --download-db-only` is found.
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "trivy")
	}
	return filepath.Join(dir, "trivy")
}

// Runner runs the Trivy binary; it implements scan.Runner.
type Runner struct {
	// Binary is the trivy executable (see Find).
	Binary string
	// CacheDir holds db/trivy.db and db/metadata.json.
	CacheDir string
	// SARIF also renders the report as SARIF with `trivy convert`.
	SARIF bool
	// IgnoreFile, if set, is applied to the SARIF rendering so that code
	// scanning does not re-raise accepted findings. The JSON report, which
	// the gate decides on, is never filtered by Trivy.
	IgnoreFile string
	// Log receives Trivy's stderr when it is set; otherwise Trivy's stderr is
	// kept only for error messages.
	Log io.Writer

	version     sync.Once
	versionText string
}

// Version is the release of the binary, from `trivy --version` ("0.67.2"),
// or "" if it does not say. Asked once per Runner.
func (r *Runner) Version(ctx context.Context) string {
	r.version.Do(func() {
		cmd := exec.CommandContext(ctx, r.Binary, "--version")
		cmd.Env = childenv.Tool(os.Environ())
		out, err := cmd.Output()
		if err != nil {
			return
		}
		line, _, _ := strings.Cut(string(out), "\n")
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Version:"); ok {
			r.versionText = strings.TrimSpace(v)
		}
	})
	return r.versionText
}

var _ scan.Runner = (*Runner)(nil)

// ImageArgs is the `trivy image` command line for an image tarball, writing
// the JSON report to output. The Dagger module uses the same arguments.
//
// All severities, no ignore file and no --ignore-unfixed: the policy is
// go-image's, applied to this report. The scan cache lives in memory so the
// cache directory can be a read-only DB mount and no stale layer analysis
// is reused.
func ImageArgs(imageTar, cacheDir, output string) []string {
	return []string{
		"image",
		"--input", imageTar,
		"--format", "json",
		"--output", output,
		"--scanners", "vuln",
		"--severity", "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL",
		"--cache-dir", cacheDir,
		"--cache-backend", "memory",
		"--skip-db-update",
		"--skip-java-db-update",
		"--offline-scan",
		"--skip-version-check",
		"--disable-telemetry",
		"--no-progress",
		"--quiet",
	}
}

// ConvertArgs is the `trivy convert` command line that renders a JSON
// report as SARIF 2.1.0 with Trivy's own writer, without scanning again.
func ConvertArgs(jsonReport, output, ignoreFile string) []string {
	args := []string{"convert", "--format", "sarif", "--output", output, "--quiet"}
	if ignoreFile != "" {
		args = append(args, "--ignorefile", ignoreFile)
	}
	return append(args, jsonReport)
}

// Scan runs Trivy over the image tarball.
func (r *Runner) Scan(ctx context.Context, imageTar string) (scan.Output, error) {
	if r.Binary == "" {
		return scan.Output{}, errors.New("trivy: no binary: " + InstallHint)
	}
	meta, err := CheckDB(r.CacheDir)
	if err != nil {
		return scan.Output{}, err
	}
	imageTar, err = filepath.Abs(imageTar)
	if err != nil {
		return scan.Output{}, err
	}
	if _, err := os.Stat(imageTar); err != nil {
		return scan.Output{}, fmt.Errorf("scan: image tarball: %w", err)
	}
	cacheDir, err := filepath.Abs(r.CacheDir)
	if err != nil {
		return scan.Output{}, err
	}
	work, err := os.MkdirTemp("", "go-image-trivy-")
	if err != nil {
		return scan.Output{}, err
	}
	defer os.RemoveAll(work)

	jsonPath := filepath.Join(work, "report.json")
	if err := r.run(ctx, work, ImageArgs(imageTar, cacheDir, jsonPath)); err != nil {
		return scan.Output{}, err
	}
	out := scan.Output{DBUpdatedAt: meta.UpdatedAt, Version: r.Version(ctx)}
	if out.JSON, err = ReadReport(ctx, jsonPath, "Trivy's JSON report"); err != nil {
		return scan.Output{}, err
	}
	if r.SARIF {
		ignore := ""
		if r.IgnoreFile != "" {
			if ignore, err = filepath.Abs(r.IgnoreFile); err != nil {
				return scan.Output{}, err
			}
		}
		sarifPath := filepath.Join(work, "report.sarif")
		if err := r.run(ctx, work, ConvertArgs(jsonPath, sarifPath, ignore)); err != nil {
			return scan.Output{}, err
		}
		if out.SARIF, err = ReadReport(ctx, sarifPath, "Trivy's SARIF report"); err != nil {
			return scan.Output{}, err
		}
	}
	return out, nil
}

// ReadReport reads the report Trivy wrote at path, named what in errors,
// within ctx's limits.ToolOutput: how much Trivy finds to say is the
// image's to decide (a base listing thousands of vulnerable packages).
func ReadReport(ctx context.Context, path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trivy wrote no report (%s): %w", what, err)
	}
	defer f.Close()
	lim := limits.From(ctx).ToolOutput
	if st, err := f.Stat(); err == nil {
		if err := limits.Check(st.Size(), lim, limits.ToolOutput, what); err != nil {
			return nil, err
		}
	}
	return limits.ReadAll(f, lim, limits.ToolOutput, what)
}

// run runs trivy in an empty directory with the allowlisted environment
// (childenv.Tool): no TRIVY_* variable (a trivy.yaml, .trivyignore or
// TRIVY_SEVERITY around the caller would otherwise change the findings
// behind go-image's back), and no registry token or key password.
func (r *Runner) run(ctx context.Context, dir string, args []string) error {
	cmd := exec.CommandContext(ctx, r.Binary, args...)
	cmd.Dir = dir
	cmd.Env = childenv.Tool(os.Environ())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if r.Log != nil {
		// Trivy's log quotes the image's file names: escaped line by line.
		log := safetext.NewWriter(r.Log)
		defer log.Close()
		cmd.Stderr = io.MultiWriter(&stderr, log)
	}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("trivy %s: %w", args[0], ctx.Err())
		}
		msg := lastLines(stderr.String(), 8)
		hint := ""
		if mentionsDB(msg) {
			hint = "; the vulnerability DB in " + r.CacheDir + " is unusable: " + DBHint
		}
		return fmt.Errorf("trivy %s failed (%v): %s%s", args[0], err, msg, hint)
	}
	return nil
}

// DBMeta is the part of the DB's metadata.json go-image reads.
type DBMeta struct {
	Version    int
	UpdatedAt  time.Time
	NextUpdate time.Time
}

// ReadDBMeta parses a DB's metadata.json.
func ReadDBMeta(data []byte) (DBMeta, error) {
	var m DBMeta
	err := json.Unmarshal(data, &m)
	return m, err
}

// CheckDB reports a missing or unreadable DB before Trivy runs, with the
// fix (Trivy's own message for these names a flag go-image sets for it),
// and returns its metadata.
func CheckDB(cacheDir string) (DBMeta, error) {
	var meta DBMeta
	if cacheDir == "" {
		return meta, errors.New("trivy: no cache directory: " + DBHint)
	}
	dbDir := filepath.Join(cacheDir, "db")
	for _, f := range []string{"trivy.db", "metadata.json"} {
		st, err := os.Stat(filepath.Join(dbDir, f))
		if err != nil {
			return meta, fmt.Errorf("no Trivy vulnerability DB in %s (missing %s): %s", dbDir, f, DBHint)
		}
		if st.Size() == 0 {
			return meta, fmt.Errorf("Trivy vulnerability DB in %s is corrupt (%s is empty): %s", dbDir, f, DBHint)
		}
	}
	data, err := os.ReadFile(filepath.Join(dbDir, "metadata.json"))
	if err != nil {
		return meta, fmt.Errorf("Trivy vulnerability DB in %s: %w: %s", dbDir, err, DBHint)
	}
	if meta, err = ReadDBMeta(data); err != nil {
		return meta, fmt.Errorf("Trivy vulnerability DB in %s is corrupt (metadata.json: %v): %s", dbDir, err, DBHint)
	}
	if meta.Version != DBSchemaVersion {
		return meta, fmt.Errorf("Trivy vulnerability DB in %s has schema %d, Trivy %s reads schema %d: %s",
			dbDir, meta.Version, PinnedVersion, DBSchemaVersion, DBHint)
	}
	return meta, nil
}

func mentionsDB(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, " db") || strings.Contains(s, "database") || strings.Contains(s, "bolt") || strings.Contains(s, "trivy.db")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
