package imagefile

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/limits"
)

// FuzzRead feeds arbitrary bytes to ReadContext as an image tarball, then
// reads whatever image it accepts as every gate would. Nothing may panic
// or outgrow the limits, and an accepted image is the one its digest
// names: its manifest hashes to its digest, and every layer read either
// fails or is what the manifest says.
//
// Seeds: the tarball cases of internal/hostile and a valid image.
func FuzzRead(f *testing.F) {
	for _, p := range []string{
		hostile.SparseIndex(f), hostile.SelfNestedIndex(f), hostile.NestedIndex(f, 2),
		hostile.IndexManifestMismatch(f), hostile.LyingDigest(f),
		hostile.WriteTarball(f, hostile.Members(f, hostile.RealShapes(f))...),
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		n++
		p := filepath.Join(dir, fmt.Sprintf("%d.tar", n))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(p)
		ctx := limits.With(context.Background(), limits.Limits{Entries: 2000, Uncompressed: 4 << 20, Layers: 8})
		img, err := ReadContext(ctx, p)
		if err != nil {
			return
		}
		raw, _ := img.RawManifest()
		d, _ := img.Digest()
		if fmt.Sprintf("%x", sha256.Sum256(raw)) != d.Hex {
			t.Fatalf("digest %s is not the manifest's", d)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				continue
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				continue
			}
			ld, _ := l.Digest()
			if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != ld.Hex {
				t.Fatalf("layer %s read as %s without an error", ld, got)
			}
		}
		_ = imagefs.Walk(ctx, img, func(e imagefs.Entry, r io.Reader) error {
			_, err := io.Copy(io.Discard, r)
			return err
		})
	})
}
