package imagefile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"dagger/go-image/internal/blob"
	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/limits"
)

// readAll reads every layer of img to its end, compressed and
// uncompressed, as a gate and a push would.
func readAll(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		for _, open := range []func() (io.ReadCloser, error){l.Compressed, l.Uncompressed} {
			rc, err := open()
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// TestHostileTarballs: every crafted tarball of issue 14 is refused with
// its named error, at once (Read) or at the first read of the lie, and
// within a second: nothing is read whole, nothing loops.
func TestHostileTarballs(t *testing.T) {
	tests := []struct {
		name string
		path string
		// atRead: refused by Read itself; else by reading the layers.
		atRead bool
		want   error
	}{
		{"sparse 1 GiB index.json", hostile.SparseIndex(t), true, ErrArchive},
		{"index naming itself", hostile.SelfNestedIndex(t), true, blob.ErrDigest},
		{"five nested indexes", hostile.NestedIndex(t, 5), true, limits.ErrIndexDepth},
		{"index.json and manifest.json disagree", hostile.IndexManifestMismatch(t), true, ErrInconsistent},
		{"5 MB layer declared as 1 byte", hostile.LyingSize(t), true, blob.ErrSize},
		{"layer blob that is not its digest", hostile.LyingDigest(t), false, blob.ErrDigest},
		{"two index.json", twoIndexes(t), true, ErrArchive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			img, err := ReadContext(context.Background(), tt.path)
			if !tt.atRead {
				if err != nil {
					t.Fatalf("Read: %v; want the lie found when the layer is read", err)
				}
				err = readAll(img)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s", d)
			}
			t.Log(err)
		})
	}
}

func twoIndexes(t *testing.T) string {
	ms := hostile.Members(t, hostile.Decoy(t))
	return hostile.WriteTarball(t, append(ms, hostile.Member{Name: "./index.json", Data: []byte(`{"manifests":[]}`)})...)
}

func TestNestedIndexAsDaggerWritesIt(t *testing.T) {
	img, err := Read(hostile.NestedIndex(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := readAll(img); err != nil {
		t.Fatal(err)
	}
}

// TestLyingDiffID: a config whose diff ID is not its layer's content fails
// the read of the layer's files (the runtime refuses such a layer too).
func TestLyingDiffID(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.tar")
	if err := Write(p, "x:1", hostile.LyingDiffID(t)); err != nil {
		t.Fatal(err)
	}
	got, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := readAll(got); err != nil {
		t.Fatalf("the blobs are what the manifest says: %v", err)
	}
	err = imagefs.Walk(context.Background(), got, func(imagefs.Entry, io.Reader) error { return nil })
	if !errors.Is(err, blob.ErrDigest) || !strings.Contains(err.Error(), "uncompressed") {
		t.Fatalf("err = %v, want a diff ID mismatch", err)
	}
}

// TestLimits: each bound of the reader, tightened through the context, is
// its named error.
func TestLimits(t *testing.T) {
	path := hostile.WriteTarball(t, hostile.Members(t, hostile.Decoy(t))...)
	tests := []struct {
		name string
		lim  limits.Limits
		want error
	}{
		{"index.json", limits.Limits{Manifest: 64}, limits.ErrManifest},
		{"config", limits.Limits{Config: 16}, limits.ErrConfig},
		{"members", limits.Limits{ArchiveMembers: 3}, limits.ErrArchiveMembers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadContext(limits.With(context.Background(), tt.lim), path)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var le *limits.Error
			if !errors.As(err, &le) || le.Limit <= 0 || le.What == "" {
				t.Fatalf("err = %#v: want what was too large and the limit", err)
			}
		})
	}
	img := hostile.Image(t, hostile.Layer(hostile.File("a", 0o644, "a")), hostile.Layer(hostile.File("b", 0o644, "b")))
	p := hostile.WriteTarball(t, hostile.Members(t, img)...)
	if _, err := ReadContext(limits.With(context.Background(), limits.Limits{Layers: 1}), p); !errors.Is(err, limits.ErrLayers) {
		t.Fatalf("two layers over a limit of one: err = %v", err)
	}
}

// TestSmallReadsAreBounded: a member whose stream runs on past its size
// (a file growing under the reader) is read at most limit+1 bytes.
func TestSmallReadsAreBounded(t *testing.T) {
	c := &countingSource{n: 10}
	_, err := small(c, "index.json", 1<<20, limits.Manifest)
	if !errors.Is(err, limits.ErrManifest) {
		t.Fatalf("err = %v", err)
	}
	if c.read > 1<<20+1 {
		t.Errorf("read %d bytes, want at most the limit + 1", c.read)
	}
}

// countingSource says its files are n bytes and streams spaces without
// end, counting what is read.
type countingSource struct {
	n    int64
	read int64
}

func (c *countingSource) String() string            { return "counting" }
func (c *countingSource) size(string) (int64, bool) { return c.n, true }
func (c *countingSource) open(string) (io.ReadCloser, int64, error) {
	return io.NopCloser(&endless{c: c}), c.n, nil
}

type endless struct{ c *countingSource }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	e.c.read += int64(len(p))
	return len(p), nil
}

func TestLayoutDirRefusesSpecialFiles(t *testing.T) {
	img := hostile.Decoy(t)
	dir := t.TempDir()
	for _, m := range hostile.Members(t, img) {
		p := filepath.Join(dir, filepath.FromSlash(m.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, m.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Read(dir); err != nil {
		t.Fatalf("valid layout: %v", err)
	}
	m, _ := img.Manifest()
	cfg := filepath.Join(dir, filepath.FromSlash(hostile.BlobPath(m.Config.Digest)))
	os.Remove(cfg)
	if err := syscall.Mkfifo(cfg, 0o644); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := Read(dir); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrArchive) {
			t.Fatalf("config is a FIFO: err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read hangs on a FIFO planted as a blob")
	}
	os.Remove(cfg)
	if err := os.Symlink("/etc/hostname", cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "escapes") {
		t.Fatalf("config is a symlink out of the layout: err = %v", err)
	}
}

// TestDockerSaveWithoutIndex: a docker save tarball of Docker before 25
// (manifest.json only) is still read.
func TestDockerSaveWithoutIndex(t *testing.T) {
	img := hostile.Decoy(t)
	var b bytes.Buffer
	ref, err := name.NewTag("legacy:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.Write(ref, img, &b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "legacy.tar")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := readAll(got); err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	if gotCfg, _ := got.ConfigName(); gotCfg != want {
		t.Errorf("config %s, want %s", gotCfg, want)
	}
}

// TestImagePathIsAFIFO: an image path that is a FIFO is refused at once,
// never opened (which would wait for a writer).
func TestImagePathIsAFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := Read(p); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file or directory") {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read hangs on a FIFO")
	}
}
