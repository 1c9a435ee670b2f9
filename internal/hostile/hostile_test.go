package hostile_test

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/hostile"
)

// members reads an image tarball's members without judging them: names,
// declared sizes and (small) contents.
func members(t *testing.T, p string) map[string]*tar.Header {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

func TestSparseIndexIsSmallButReadsHuge(t *testing.T) {
	p := hostile.SparseIndex(t)
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 16<<10 {
		t.Errorf("tarball is %d bytes, want a few KB", st.Size())
	}
	h := members(t, p)["index.json"]
	if h == nil || h.Size != 1<<30 {
		t.Fatalf("index.json header = %+v, want a 1 GiB sparse file", h)
	}
}

func TestLyingSizeDeclaresOneByte(t *testing.T) {
	p := hostile.LyingSize(t)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var index v1.IndexManifest
	blobs := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		blobs[h.Name] = b
	}
	if err := json.Unmarshal(blobs["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(blobs[hostile.BlobPath(index.Manifests[0].Digest)], &m); err != nil {
		t.Fatal(err)
	}
	got := int64(len(blobs[hostile.BlobPath(m.Layers[0].Digest)]))
	if m.Layers[0].Size != 1 || got < hostile.LayerMegabytes*1000*1000 {
		t.Errorf("layer declared %d bytes, stored %d; want 1 declared and %d MB stored", m.Layers[0].Size, got, hostile.LayerMegabytes)
	}
}

func TestManyFilesIsGenerated(t *testing.T) {
	l := hostile.ManyFiles(1000)
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	n := 0
	tr := tar.NewReader(rc)
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1001 {
		t.Errorf("%d entries, want 1000 files and their directory", n)
	}
	d, _ := l.Digest()
	id, _ := l.DiffID()
	if d != id {
		t.Errorf("digest %s != diff ID %s for an uncompressed layer", d, id)
	}
}

func TestHugePhoffELF(t *testing.T) {
	b := hostile.HugePhoffELF()
	if string(b[:4]) != "\x7fELF" || b[0x20] != 0xf8 || b[0x27] != 0xff {
		t.Errorf("header % x: want an ELF with e_phoff 2^64-8", b[:0x28])
	}
}

func TestCasesBuild(t *testing.T) {
	for name, img := range map[string]v1.Image{
		"duplicate": hostile.DuplicatePaths(t), "whiteout": hostile.SameLayerWhiteout(t),
		"whiteout-after": hostile.SameLayerWhiteoutAfter(t), "opaque": hostile.OpaqueDir(t),
		"symlink": hostile.SymlinkEscape(t, "/tmp"), "hardlink": hostile.HardlinkEscape(t, "/tmp"),
		"dotdot": hostile.DotDotName(t), "dotdotlink": hostile.DotDotLink(t), "forged": hostile.ForgedNames(t),
		"real": hostile.RealShapes(t), "phoff": hostile.HugePhoff(t), "huge": hostile.HugeFile(t, 1<<20),
	} {
		if _, err := img.Digest(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, p := range map[string]string{
		"self": hostile.SelfNestedIndex(t), "nested": hostile.NestedIndex(t, 3),
		"mismatch": hostile.IndexManifestMismatch(t), "digest": hostile.LyingDigest(t),
	} {
		if len(members(t, p)) < 2 {
			t.Errorf("%s: tarball has too few members", name)
		}
	}
}

func TestSparseLayerReadsHuge(t *testing.T) {
	rc, err := hostile.SparseLayer("big", 1<<30).Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h, err := tar.NewReader(rc).Next()
	if err != nil || h.Size != 1<<30 || h.Typeflag != tar.TypeGNUSparse {
		t.Fatalf("header %+v, %v; want a 1 GiB sparse entry", h, err)
	}
}
