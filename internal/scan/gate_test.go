package scan_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/policy"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/scan"
)

// fakeRunner replays a report and records what it was asked to scan.
type fakeRunner struct {
	json    string // testdata file
	err     error
	scanned string
	digest  string
}

func (f *fakeRunner) Scan(ctx context.Context, imageTar string) (scan.Output, error) {
	f.scanned = imageTar
	// The gate hands over a readable image tarball of the image it checks.
	img, err := imagefile.Read(imageTar)
	if err != nil {
		return scan.Output{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return scan.Output{}, err
	}
	f.digest = d.String()
	if f.err != nil {
		return scan.Output{}, f.err
	}
	data, err := os.ReadFile(filepath.Join("testdata", f.json))
	return scan.Output{JSON: data, SARIF: []byte(`{"version":"2.1.0"}`)}, err
}

func TestGateCheck(t *testing.T) {
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	f := &fakeRunner{json: "mixed.json"}
	var kept scan.Output
	g := &scan.Gate{Runner: f, Keep: func(o scan.Output) { kept = o }}
	res, err := g.Check(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if f.digest != want.String() {
		t.Errorf("runner scanned %s, want the checked image %s", f.digest, want)
	}
	if _, err := os.Stat(f.scanned); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary tarball %s left behind (stat: %v)", f.scanned, err)
	}
	if len(res) != 1 || res[0].Status != report.Fail || !strings.Contains(res[0].Message, "CVE-2022-32149") {
		t.Errorf("results = %+v, want one failure naming CVE-2022-32149", res)
	}
	if len(kept.JSON) == 0 || string(kept.SARIF) != `{"version":"2.1.0"}` {
		t.Errorf("Keep got %q / %q, want the runner's output", kept.JSON, kept.SARIF)
	}
}

// A scanner that cannot run fails the image: never a silent pass.
func TestGateErrorFailsTheRun(t *testing.T) {
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*fakeRunner{
		{err: errors.New("trivy binary not found")},
		{json: "schema3.json"},
	} {
		r := gates.Run(context.Background(), img, &scan.Gate{Runner: f})
		if len(r.Failed()) != 1 || r.Failed()[0].ID != "scan/error" {
			t.Errorf("runner %+v: report = %+v, want a scan/error failure", f, r.Results)
		}
	}
}

func TestStandardRunsScanAfterSize(t *testing.T) {
	var names []string
	for _, g := range policy.Standard(policy.Options{Scan: &scan.Gate{}}) {
		names = append(names, g.Name())
	}
	if got := strings.Join(names, " "); got != "size scan upx harden" {
		t.Errorf("gates = %s, want size scan upx harden", got)
	}
}

// TestGateRefusesWhatTheGatesRefuse: Trivy is never shown an image whose
// layers the other gates refuse (issue 14: a path twice in a layer reads
// one way for go-image, another for Trivy and containerd).
func TestGateRefusesWhatTheGatesRefuse(t *testing.T) {
	f := &fakeRunner{json: "mixed.json"}
	g := &scan.Gate{Runner: f}
	_, err := g.Check(context.Background(), hostile.DuplicatePaths(t))
	if !errors.Is(err, imagefs.ErrDuplicate) {
		t.Fatalf("err = %v, want imagefs.ErrDuplicate", err)
	}
	if f.scanned != "" {
		t.Errorf("the runner was handed %s", f.scanned)
	}
}
