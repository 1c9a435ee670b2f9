package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/limits"
	"dagger/go-image/internal/safetext"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/trivy"
	"dagger/go-image/internal/volumes"
)

// Trivy says where the scan's Trivy and its vulnerability DB come from.
type Trivy struct {
	// Image is the Trivy image ("" for trivy.DefaultImage).
	Image string
	// DBRepository is passed to trivy --db-repository: a mirror of
	// ghcr.io/aquasecurity/trivy-db ("" for Trivy's default).
	DBRepository string
	// DB is a Trivy cache directory holding db/trivy.db and
	// db/metadata.json, downloaded beforehand: nothing is downloaded then.
	DB *dagger.Directory
}

// dbCache is where the scan container keeps the DB.
const dbCache = "/trivy-cache"

// Scan runs Trivy over the image tarball with the CLI's arguments
// (internal/trivy.ImageArgs: every severity, no ignores; the policy is
// applied in Go) and returns its JSON report, the DB's age, and SARIF
// (ignore file applied) when sarif is set.
func (e *Executor) Scan(ctx context.Context, t Trivy, tarball *dagger.File, ignorefile *dagger.File, sarif bool) (scan.Output, error) {
	image := t.Image
	if image == "" {
		image = trivy.DefaultImage
	}
	const dir = "/work"
	c := e.Dag.Container().From(image).
		WithMountedFile(dir+"/image.tar", tarball).
		WithWorkdir(dir)
	if t.DB != nil {
		c = c.WithDirectory(dbCache, t.DB)
	} else {
		// The DB lives in a cache volume, refreshed at most once an hour:
		// the epoch variable keeps Dagger from reusing an older download.
		args := []string{"trivy", "image", "--download-db-only", "--cache-dir", dbCache,
			"--no-progress", "--quiet", "--skip-version-check", "--disable-telemetry"}
		if t.DBRepository != "" {
			args = append(args, "--db-repository", t.DBRepository)
		}
		from := t.DBRepository
		if from == "" {
			from = "Trivy's default, ghcr.io/aquasecurity/trivy-db"
		}
		c = c.WithMountedCache(dbCache, e.Cache(dbVolume(t.DBRepository), volumes.Image(image, trivy.DefaultImage)), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked}).
			WithEnvVariable("GOIMAGE_DB_EPOCH", time.Now().UTC().Format("2006-01-02T15")).
			WithExec(args)
		if _, err := c.Sync(ctx); err != nil {
			return scan.Output{}, fmt.Errorf("trivy could not download its vulnerability DB from %s: %s\n"+
				"fix: give a mirror the engine's containers reach (with-trivy-db-repository), hand it a downloaded DB (with-trivy-db), or switch the gate off with a reason (without-scan)", from, execError(err))
		}
	}
	c = c.WithExec(append([]string{"trivy"}, trivy.ImageArgs(dir+"/image.tar", dbCache, dir+"/report.json")...))
	js, err := readReport(ctx, c.File(dir+"/report.json"), "Trivy's JSON report")
	if err != nil {
		return scan.Output{}, fmt.Errorf("trivy (%s): %w", image, err)
	}
	out := scan.Output{JSON: js, Version: imageVersion(image)}
	// A cache volume is a mount, not part of the container's files: read
	// the DB metadata with cat.
	meta, err := c.WithExec([]string{"cat", dbCache + "/db/metadata.json"}).Stdout(ctx)
	if err != nil {
		return scan.Output{}, fmt.Errorf("trivy DB metadata: %s (a DB directory must hold db/trivy.db and db/metadata.json)", execError(err))
	}
	m, err := trivy.ReadDBMeta([]byte(meta))
	if err != nil {
		return scan.Output{}, err
	}
	out.DBUpdatedAt = m.UpdatedAt
	if sarif {
		ignore := ""
		if ignorefile != nil {
			ignore = dir + "/.trivyignore"
			c = c.WithMountedFile(ignore, ignorefile)
		}
		s, err := readReport(ctx, c.WithExec(append([]string{"trivy"}, trivy.ConvertArgs(dir+"/report.json", dir+"/report.sarif", ignore)...)).
			File(dir+"/report.sarif"), "Trivy's SARIF report")
		if err != nil {
			return scan.Output{}, fmt.Errorf("trivy convert: %w", err)
		}
		out.SARIF = s
	}
	return out, nil
}

// readReport reads the report Trivy wrote, named what in errors, within
// ctx's limits.ToolOutput (as trivy.ReadReport for the CLI): its size is
// asked first, since Contents brings the whole file into this process.
func readReport(ctx context.Context, f *dagger.File, what string) ([]byte, error) {
	size, err := f.Size(ctx)
	if err != nil {
		return nil, errors.New(execError(err))
	}
	if err := limits.Check(int64(size), limits.From(ctx).ToolOutput, limits.ToolOutput, what); err != nil {
		return nil, err
	}
	s, err := f.Contents(ctx)
	if err != nil {
		return nil, errors.New(execError(err))
	}
	return []byte(s), nil
}

// imageVersion is the tag of a Trivy image reference, "" without one.
func imageVersion(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return strings.TrimPrefix(ref[i+1:], "v")
	}
	return ""
}

// dbVolume names the DB cache volume of a repository: one per repository,
// so a DB downloaded from one never answers for another.
func dbVolume(repository string) string {
	if repository == "" {
		return "trivy-db-default"
	}
	sum := sha256.Sum256([]byte(repository))
	return "trivy-db-" + hex.EncodeToString(sum[:6])
}

// execTail bounds what an error quotes of an exec's output, in bytes.
const execTail = 2000

// execError is what a failed exec said, without Dagger's query around it:
// its end, escaped (the exec reads the source, and the source names its
// files and writes its compile errors).
func execError(err error) string {
	var ee *dagger.ExecError
	if errors.As(err, &ee) {
		msg := ee.Stderr
		if strings.TrimSpace(msg) == "" {
			msg = ee.Stdout
		}
		return fmt.Sprintf("exit code %d: %s", ee.ExitCode, safetext.Tail(msg, execTail))
	}
	return safetext.Tail(err.Error(), execTail)
}

// Scanner is the scan gate's runner in the engine (scan.ImageRunner): the
// Trivy image over the tarball the build already handed to the engine, so
// the gate scans the very file the other gates read.
type Scanner struct {
	E     *Executor
	Trivy Trivy
	// SARIF also renders the findings as SARIF, with IgnoreFile applied.
	SARIF      bool
	IgnoreFile *dagger.File
}

// ScanImage implements scan.ImageRunner.
func (s Scanner) ScanImage(ctx context.Context, img v1.Image) (scan.Output, error) {
	b, err := s.E.AsBuilt(img)
	if err != nil {
		return scan.Output{}, err
	}
	return s.E.Scan(ctx, s.Trivy, b.Tarball, s.IgnoreFile, s.SARIF)
}

// Scan implements scan.Runner for an image tarball on the module's own
// file system, handed to the engine through its working directory.
func (s Scanner) Scan(ctx context.Context, imageTar string) (scan.Output, error) {
	f, err := s.E.workdirFile(imageTar)
	if err != nil {
		return scan.Output{}, err
	}
	return s.E.Scan(ctx, s.Trivy, f, s.IgnoreFile, s.SARIF)
}
