package imagefs_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/limits"
)

// layerBytes returns the uncompressed tars of img's layers.
func layerBytes(t testing.TB, img v1.Image) [][]byte {
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzApply feeds two layers of arbitrary bytes (the second may be empty:
// one layer) to Walk and Read. Neither may panic or outgrow the limits;
// they must agree on whether the image is refused; and when it is not,
// Walk must yield exactly Read's entries, each path once, every hard link
// after its file, every file's contents of its size.
//
// Seeds: the layers of every image case of internal/hostile.
func FuzzApply(f *testing.F) {
	for _, img := range []v1.Image{
		hostile.DuplicatePaths(f), hostile.SameLayerWhiteout(f), hostile.SameLayerWhiteoutAfter(f),
		hostile.OpaqueDir(f), hostile.SymlinkEscape(f, "/tmp/host"), hostile.HardlinkEscape(f, "/tmp/host"),
		hostile.DotDotName(f), hostile.DotDotLink(f), hostile.ForgedNames(f), hostile.RealShapes(f),
		hostile.HugePhoff(f), hostile.ManyFilesImage(f, 20), hostile.Image(f, hostile.SparseLayer("big", 1<<20)),
	} {
		ls := layerBytes(f, img)
		if len(ls) == 1 {
			ls = append(ls, nil)
		}
		f.Add(ls[0], ls[1])
	}
	f.Fuzz(func(t *testing.T, lower, upper []byte) {
		layers := []v1.Layer{hostile.Generated(func(w io.Writer) error { _, err := w.Write(lower); return err })}
		if len(upper) > 0 {
			layers = append(layers, hostile.Generated(func(w io.Writer) error { _, err := w.Write(upper); return err }))
		}
		img := hostile.Image(t, layers...)
		ctx := limits.With(context.Background(), limits.Limits{Entries: 2000, Uncompressed: 4 << 20, Kept: 1 << 20})
		w, werr := walk(ctx, img)
		f, rerr := imagefs.Read(ctx, img, func(imagefs.Entry) bool { return true }, 0)
		if (werr == nil) != (rerr == nil) {
			t.Fatalf("Walk: %v\nRead: %v", werr, rerr)
		}
		if werr != nil {
			if errors.Is(werr, imagefs.ErrRefused) != errors.Is(rerr, imagefs.ErrRefused) {
				t.Fatalf("Walk: %v\nRead: %v", werr, rerr)
			}
			return
		}
		seen := map[string]imagefs.Entry{}
		for _, e := range w.entries {
			if _, dup := seen[e.Path]; dup {
				t.Fatalf("%q yielded twice", e.Path)
			}
			if e.Type == tar.TypeLink {
				if target, ok := seen[e.Linkname]; !ok || target.Type == tar.TypeLink || target.Dir() {
					t.Fatalf("hard link %q -> %q yielded before its file", e.Path, e.Linkname)
				}
			}
			if e.Regular() && int64(len(w.contents[e.Path])) != e.Size {
				t.Fatalf("%q: %d bytes yielded, size %d", e.Path, len(w.contents[e.Path]), e.Size)
			}
			seen[e.Path] = e
		}
		if len(seen) != len(f.Entries()) {
			t.Fatalf("Walk yielded %d entries, Read indexed %d", len(seen), len(f.Entries()))
		}
		for _, e := range f.Entries() {
			if seen[e.Path] != e {
				t.Fatalf("%q: Walk %+v, Read %+v", e.Path, seen[e.Path], e)
			}
			if e.Regular() {
				b, err := f.ReadFile(ctx, e.Path)
				if err != nil || string(b) != w.contents[e.Path] {
					t.Fatalf("ReadFile(%q) = %q, %v; Walk yielded %q", e.Path, b, err, w.contents[e.Path])
				}
			}
		}
	})
}
