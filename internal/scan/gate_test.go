package scan_test

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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

// imageRunner scans images itself, as the engine's Trivy does; its Scan
// must not be used by Check.
type imageRunner struct {
	fakeRunner
	got v1.Image
}

func (r *imageRunner) ScanImage(ctx context.Context, img v1.Image) (scan.Output, error) {
	r.got = img
	data, err := os.ReadFile(filepath.Join("testdata", r.json))
	return scan.Output{JSON: data}, err
}

// TestGateUpgradesToImageRunner: a runner that scans images is handed the
// very image, and no tarball is written for it; Keep and the policy apply
// as for a tarball scan.
func TestGateUpgradesToImageRunner(t *testing.T) {
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := &imageRunner{fakeRunner: fakeRunner{json: "mixed.json"}}
	var kept scan.Output
	res, err := (&scan.Gate{Runner: r, Keep: func(o scan.Output) { kept = o }}).Check(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if r.got != img || r.scanned != "" {
		t.Errorf("ScanImage got %v, Scan got %q: want the image itself and no tarball", r.got, r.scanned)
	}
	if len(res) != 1 || res[0].Status != report.Fail || len(kept.JSON) == 0 {
		t.Errorf("results = %+v (kept %d bytes), want the policy's failure and the output kept", res, len(kept.JSON))
	}
}

func TestParseIgnoreFile(t *testing.T) {
	l, err := scan.ParseIgnoreFile("/src/deploy/accepted.trivyignore", []byte("# not reachable\nCVE-2022-32149\n"))
	if err != nil || l.Path != "accepted.trivyignore" || len(l.Entries) != 1 || l.Entries[0].Reason != "not reachable" {
		t.Errorf("ParseIgnoreFile = %+v, %v; want one entry with its reason, named by its base name", l, err)
	}
	if _, err := scan.ParseIgnoreFile("deploy/.trivyignore.yaml", []byte("vulnerabilities: []\n")); err == nil || !strings.Contains(err.Error(), "YAML form") {
		t.Errorf("a YAML ignore file: err = %v, want the YAML form refused", err)
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

// flatRunner records which regular files the tarball it is handed holds,
// as a reader that skips hard links (Trivy) sees them: the regular-file
// entries of the image's layers, whiteouts applied.
type flatRunner struct {
	imageRunner
	regular map[string]string
}

func (f *flatRunner) Scan(ctx context.Context, imageTar string) (scan.Output, error) {
	img, err := imagefile.Read(imageTar)
	if err != nil {
		return scan.Output{}, err
	}
	f.regular = map[string]string{}
	ls, err := img.Layers()
	if err != nil {
		return scan.Output{}, err
	}
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			return scan.Output{}, err
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			p := path.Clean("/" + h.Name)
			if d, b := path.Split(p); strings.HasPrefix(b, ".wh.") {
				delete(f.regular, d+strings.TrimPrefix(b, ".wh."))
			}
			if h.Typeflag == tar.TypeReg {
				b, _ := io.ReadAll(tr)
				f.regular[p] = string(b)
			}
		}
		rc.Close()
	}
	f.scanned = imageTar
	data, err := os.ReadFile(filepath.Join("testdata", f.json))
	return scan.Output{JSON: data}, err
}

// TestGateShowsTrivyLinkedOnlyFiles: Trivy skips hard links, so a file
// that lives on only through one (its first path whited out by a later
// layer) was never scanned, although the runtime runs it. The gate hands
// such an image over flattened, through Scan even to a runner that scans
// images itself, and says so in the result.
func TestGateShowsTrivyLinkedOnlyFiles(t *testing.T) {
	for _, tt := range []struct {
		name      string
		img       v1.Image
		flattened bool
	}{
		{"linked only", hostile.LinkSurvivor(t, []byte("vulnerable tool")), true},
		{"every file in a regular entry", hostile.OpaqueDir(t), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &flatRunner{imageRunner: imageRunner{fakeRunner: fakeRunner{json: "clean.json"}}}
			res, err := (&scan.Gate{Runner: r}).Check(context.Background(), tt.img)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.flattened {
				if r.got != tt.img || r.scanned != "" {
					t.Errorf("ScanImage got %v, Scan got %q: want the image itself", r.got, r.scanned)
				}
				return
			}
			if r.got != nil {
				t.Error("ScanImage was handed an image with a linked-only file")
			}
			if got := r.regular["/usr/bin/tool2"]; got != "vulnerable tool" {
				t.Errorf("the scanner reads /usr/bin/tool2 as %q (regular files: %q), want the tool", got, r.regular)
			}
			if len(res) != 1 || !strings.Contains(strings.Join(res[0].Details, "\n"), "flattened into one layer: 1 file(s) live on only through hard links") {
				t.Errorf("results = %+v, want a detail saying Trivy read the image flattened", res)
			}
		})
	}
}

// TestTrivyReadsLinkedOnlyFiles: the real Trivy, when there is one
// ($GOIMAGE_TRIVY), lists the Go binary hidden behind a hard link once the
// gate flattens the image (it listed nothing before). Its SBOM needs no
// vulnerability DB.
func TestTrivyReadsLinkedOnlyFiles(t *testing.T) {
	bin := os.Getenv("GOIMAGE_TRIVY")
	if bin == "" {
		t.Skip("no Trivy: set GOIMAGE_TRIVY")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(self) // a Go binary: Trivy lists its modules
	if err != nil {
		t.Fatal(err)
	}
	r := &sbomRunner{bin: bin, cache: t.TempDir()}
	if _, err := (&scan.Gate{Runner: r}).Check(context.Background(), hostile.LinkSurvivor(t, exe)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.sbom, `"name": "stdlib"`) || !strings.Contains(r.sbom, "usr/bin/tool2") {
		t.Errorf("Trivy's SBOM does not list the hidden binary's stdlib:\n%.2000s", r.sbom)
	}
}

// sbomRunner has Trivy list the packages of the tarball, and replays a
// clean report.
type sbomRunner struct {
	bin, cache, sbom string
}

func (s *sbomRunner) Scan(ctx context.Context, imageTar string) (scan.Output, error) {
	cmd := exec.CommandContext(ctx, s.bin, "image", "--input", imageTar, "--format", "cyclonedx", "--cache-dir", s.cache,
		"--skip-db-update", "--skip-version-check", "--disable-telemetry", "--quiet")
	cmd.Env = []string{"HOME=" + s.cache, "PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		return scan.Output{}, fmt.Errorf("trivy: %w", err)
	}
	s.sbom = string(out)
	data, err := os.ReadFile(filepath.Join("testdata", "clean.json"))
	return scan.Output{JSON: data}, err
}
