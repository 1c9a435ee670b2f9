package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/report"
)

// Output is what one Trivy run produced.
type Output struct {
	// JSON is Trivy's --format json report over all severities with
	// nothing ignored: the policy is applied afterwards, by Evaluate.
	JSON []byte
	// SARIF is the same findings as SARIF 2.1.0 for code-scanning upload,
	// or nil if the runner was not asked for it.
	SARIF []byte
	// DBUpdatedAt is when the vulnerability DB was built (UpdatedAt of its
	// metadata.json), zero if unknown.
	DBUpdatedAt time.Time
	// Version is the Trivy release that scanned, e.g. 0.67.2; "" if unknown.
	Version string
}

// Judge applies the policy to one Trivy run: its verdict, the DB's age,
// and which Trivy and which DB judged — the facts a gate report kept as an
// attestation must carry. Both executors call it on their Trivy's output.
func (p Policy) Judge(out Output) (report.Result, error) {
	r, err := ParseReport(out.JSON)
	if err != nil {
		return report.Result{}, err
	}
	res := p.Evaluate(r)
	p.CheckDBAge(&res, out.DBUpdatedAt)
	res.Tool = &report.Tool{Name: "trivy", Version: out.Version}
	if !out.DBUpdatedAt.IsZero() {
		t := out.DBUpdatedAt.UTC()
		res.Tool.DataUpdated = &t
	}
	return res, nil
}

// Runner runs Trivy. The CLI runs a local binary (internal/trivy); the
// Dagger module runs the Trivy release image.
type Runner interface {
	// Scan scans the image tarball at imageTar.
	Scan(ctx context.Context, imageTar string) (Output, error)
}

// Gate is the vulnerability gate over an image.
type Gate struct {
	Runner Runner
	Policy Policy
	// Keep, if set, receives Trivy's raw output of each scan, e.g. to write
	// the --json and --sarif files; the gate itself never writes them.
	Keep func(Output)
}

func (g *Gate) Name() string { return GateName }

// CheckInput refuses to have Trivy scan an image the other gates could not
// judge: it reads img's layers as they do (imagefs.LinkedOnly), so a layer
// they refuse, or one that is not its diff ID, is refused here too. Both
// executors call it before Trivy runs; Trivy then reads a tarball
// go-image wrote from img, never a file it was given.
//
// It returns the files Trivy would not read in img's own layers: Trivy
// skips hard links, so a file whose first path a later layer deleted or
// replaced, alive through a hard link, is a file the runtime runs and
// Trivy never scans (a vulnerable binary hidden so). Check then shows
// Trivy the flattened filesystem instead.
func CheckInput(ctx context.Context, img v1.Image) (linkedOnly []string, err error) {
	linkedOnly, err = imagefs.LinkedOnly(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	return linkedOnly, nil
}

// ImageRunner is a Runner that scans an image without the tarball Check
// would write for it: the Dagger module's Trivy, which reads the tarball
// the build already handed to the engine. Check upgrades to it by type
// assertion, as go-containerregistry's partial does.
type ImageRunner interface {
	Runner
	ScanImage(ctx context.Context, img v1.Image) (Output, error)
}

// Check scans img: CheckInput, then through the runner's ScanImage when
// it has one (the module's Trivy reads the tarball the build wrote from
// img), else img written to a temporary tarball, which is what Trivy
// reads. Trivy is never handed a file go-image did not write: a tarball a
// user passes could hold two images (index.json and manifest.json
// disagreeing) and Trivy would read the other one.
//
// An image with files only hard links reach (CheckInput) is scanned as its
// flattened filesystem (imagefs.Flatten), through Scan whatever the
// runner: Trivy then reads every file the runtime runs, and the result
// says so.
func (g *Gate) Check(ctx context.Context, img v1.Image) ([]report.Result, error) {
	linkedOnly, err := CheckInput(ctx, img)
	if err != nil {
		return nil, err
	}
	if r, ok := g.Runner.(ImageRunner); ok && len(linkedOnly) == 0 {
		out, err := r.ScanImage(ctx, img)
		if err != nil {
			return nil, err
		}
		return g.judge(out, nil)
	}
	dir, err := os.MkdirTemp("", "go-image-scan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	scanned := img
	if len(linkedOnly) > 0 {
		if scanned, err = imagefs.Flatten(ctx, img, dir); err != nil {
			return nil, fmt.Errorf("scan: flatten the image for Trivy: %w", err)
		}
	}
	path := filepath.Join(dir, "image.tar")
	// Write streams every blob through its digest check (imagefile's
	// layers verify while they are read): the file is the image checked.
	if err := imagefile.Write(path, "go-image/scan:latest", scanned); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	out, err := g.Runner.Scan(ctx, path)
	if err != nil {
		return nil, err
	}
	return g.judge(out, linkedOnly)
}

// flattenNote is how many linked-only files a result names.
const flattenNote = 5

// judge keeps the runner's output when asked and applies the policy; a
// scan of the flattened image says why in its details.
func (g *Gate) judge(out Output, linkedOnly []string) ([]report.Result, error) {
	if g.Keep != nil {
		g.Keep(out)
	}
	res, err := g.Policy.Judge(out)
	if err != nil {
		return nil, err
	}
	if len(linkedOnly) > 0 {
		shown := linkedOnly[:min(len(linkedOnly), flattenNote)]
		note := fmt.Sprintf("Trivy read the image flattened into one layer: %d file(s) live on only through hard links after a later layer deleted or replaced their first path, and Trivy skips hard links: %s", len(linkedOnly), strings.Join(shown, ", "))
		if len(linkedOnly) > len(shown) {
			note += ", …"
		}
		res.Details = append(res.Details, note)
	}
	return []report.Result{res}, nil
}
