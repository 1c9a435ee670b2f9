package imagefs_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/imagetest"
)

// twoLayers is an image of two counted layers: a lower one whose /etc/old
// the upper one deletes and whose /etc/passwd it replaces.
func twoLayers(t *testing.T) (v1.Image, *atomic.Int32) {
	t.Helper()
	lower := imagetest.Layer(t,
		imagetest.File{Path: "/etc", Dir: true, Mode: 0o755},
		imagetest.File{Path: "/etc/passwd", Mode: 0o644, Data: []byte("lower")},
		imagetest.File{Path: "/etc/old", Mode: 0o644, Data: []byte("old")},
		imagetest.File{Path: "/bin/app", Mode: 0o755, Data: []byte("\x7fELF lower app")},
	)
	upper := imagetest.Layer(t,
		imagetest.File{Path: "/etc/passwd", Mode: 0o644, Data: []byte("upper")},
		imagetest.File{Path: "/etc/.wh.old"},
	)
	img, err := mutate.AppendLayers(empty.Image, lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	return imagetest.CountOpens(t, img)
}

// One pass serves every reader: each layer is opened once, however many
// readers there are, and each reader sees what it would alone: the headers
// as stored, the final filesystem with its kept files, a note per file.
func TestPassReadsEachLayerOnce(t *testing.T) {
	img, opens := twoLayers(t)
	p := &imagefs.Pass{}
	var headers []string
	p.Headers(func(i int, h *tar.Header) { headers = append(headers, h.Name) })
	lengths := p.Files(func(e imagefs.Entry, r io.Reader) (any, error) {
		b, err := io.ReadAll(r)
		return len(b), err
	})
	firsts := p.Files(func(e imagefs.Entry, r io.Reader) (any, error) {
		b := make([]byte, 1)
		_, err := io.ReadFull(r, b)
		return string(b), err // reads less than the file: the others still get all of it
	})
	p.Keep(func(e imagefs.Entry) bool { return e.Path == "/etc/passwd" }, 1<<20)
	r, err := p.Run(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if n := opens.Load(); n != 2 {
		t.Errorf("the layers were opened %d times, want 2: once each", n)
	}
	if len(r.Layers) != 2 || r.Layers[0].Compressed == 0 || r.Layers[0].Uncompressed == 0 {
		t.Errorf("layer stats %+v, want both measured", r.Layers)
	}
	if !slices.Contains(headers, "etc/old") || !slices.Contains(headers, "etc/.wh.old") {
		t.Errorf("headers %v, want every layer's, deleted files and whiteouts too", headers)
	}
	if b, err := r.FS.ReadFile(context.Background(), "/etc/passwd"); err != nil || string(b) != "upper" {
		t.Errorf("kept /etc/passwd = %q, %v; want the upper layer's", b, err)
	}
	if n := opens.Load(); n != 2 {
		t.Errorf("reading a kept file opened the layers again (%d opens)", n)
	}
	if _, ok := r.FS.Lookup("/etc/old"); ok {
		t.Error("/etc/old was deleted but is in the filesystem")
	}
	for path, want := range map[string]int{"/etc/passwd": 5, "/bin/app": 14} {
		n, err := r.Note(lengths, path)
		if err != nil || n != want {
			t.Errorf("note on %s = %v, %v; want %d, the final file's length", path, n, err, want)
		}
		f, err := r.Note(firsts, path)
		if err != nil || f == "" {
			t.Errorf("second reader's note on %s = %v, %v", path, f, err)
		}
	}
	if n, _ := r.Note(lengths, "/etc/old"); n != nil {
		t.Errorf("a deleted file has a note: %v", n)
	}
}

// A layer the applier refuses stops the filesystem's readers, not the
// size's: the layers are still measured to their end.
func TestPassRefusedLayerStillMeasured(t *testing.T) {
	l := imagetest.Layer(t,
		imagetest.File{Path: "/a", Mode: 0o644, Data: []byte("one")},
		imagetest.File{Path: "/a", Mode: 0o644, Data: []byte("two")},
	)
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	p := &imagefs.Pass{}
	p.Filesystem()
	r, err := p.Run(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	var refusal *imagefs.Refusal
	if !errors.As(r.ApplyErr, &refusal) || r.FS != nil {
		t.Fatalf("ApplyErr = %v, FS = %v; want a refusal and no filesystem", r.ApplyErr, r.FS)
	}
	if len(r.Layers) != 1 || r.Layers[0].Uncompressed == 0 {
		t.Errorf("layers %+v, want the refused layer measured", r.Layers)
	}
}

// A reader that panics on a file fails alone, with its stack; the other
// readers and the filesystem are whole.
func TestPassReaderPanic(t *testing.T) {
	img, _ := twoLayers(t)
	p := &imagefs.Pass{}
	bad := p.Files(func(e imagefs.Entry, r io.Reader) (any, error) {
		if e.Path == "/bin/app" {
			var b []byte
			_ = b[7]
		}
		return nil, nil
	})
	good := p.Files(func(e imagefs.Entry, r io.Reader) (any, error) { return e.Path, nil })
	r, err := p.Run(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	var pe *imagefs.PanicError
	if _, err := r.Note(bad, "/etc/passwd"); !errors.As(err, &pe) || !strings.Contains(pe.Error(), "index out of range") || len(pe.Stack) == 0 {
		t.Errorf("panicking reader: %v, want its panic with a stack", err)
	}
	if n, err := r.Note(good, "/bin/app"); err != nil || n != "/bin/app" {
		t.Errorf("the other reader: %v, %v", n, err)
	}
}
