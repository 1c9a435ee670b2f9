package hostile

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Member is one file of an image tarball (the outer archive, not a layer).
type Member struct {
	Name string
	Data []byte
	// Sparse, when larger than Data, stores the member as a GNU sparse file
	// of that size: a hole, then Data at its end. A tar reader yields Sparse
	// bytes from a few hundred stored ones.
	Sparse int64
}

// Tag is the tag every case's index.json and manifest.json give the image.
const Tag = "hostile/case:latest"

// Members is img as go-image writes an image tarball: oci-layout, the
// manifest, config and layer blobs, index.json and a manifest.json that
// names the same blobs. Cases edit the list to lie.
func Members(t testing.TB, img v1.Image) []Member {
	helper(t)
	raw, err := img.RawManifest()
	if err != nil {
		fatal(t, err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		fatal(t, err)
	}
	layers, err := img.Layers()
	if err != nil {
		fatal(t, err)
	}
	out := []Member{{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{Name: BlobPath(digestOf(raw)), Data: raw},
		{Name: BlobPath(digestOf(cfg)), Data: cfg}}
	var paths []string
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			fatal(t, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			fatal(t, err)
		}
		out = append(out, Member{Name: BlobPath(digestOf(b)), Data: b})
		paths = append(paths, BlobPath(digestOf(b)))
	}
	mt, err := img.MediaType()
	if err != nil {
		fatal(t, err)
	}
	return append(out,
		Member{Name: "index.json", Data: Index(mt, raw)},
		Member{Name: "manifest.json", Data: DockerManifest(BlobPath(digestOf(cfg)), paths...)})
}

// Index is an index.json naming one manifest (or nested index) of type mt.
func Index(mt types.MediaType, manifest []byte) []byte {
	return mustJSON(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex,
		Manifests: []v1.Descriptor{{MediaType: mt, Size: int64(len(manifest)), Digest: digestOf(manifest),
			Annotations: map[string]string{"org.opencontainers.image.ref.name": "latest"}}}})
}

// DockerManifest is a manifest.json (docker save's) naming one image by its
// config and layer paths inside the archive.
func DockerManifest(config string, layers ...string) []byte {
	return mustJSON([]map[string]any{{"Config": config, "RepoTags": []string{Tag}, "Layers": layers}})
}

// BlobPath is where an OCI image layout keeps the blob d.
func BlobPath(d v1.Hash) string { return "blobs/" + d.Algorithm + "/" + d.Hex }

func digestOf(b []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps, slices and strings: cannot fail
	}
	return b
}

// WriteTarball writes members, in order, to a new file in t's temporary
// directory and returns its path.
func WriteTarball(t testing.TB, members ...Member) string {
	helper(t)
	p := filepath.Join(t.TempDir(), "image.tar")
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range members {
		if m.Sparse > int64(len(m.Data)) {
			if err := tw.Flush(); err != nil {
				fatal(t, err)
			}
			b.Write(sparseHeader(m.Name, m.Sparse, int64(len(m.Data))))
			b.Write(m.Data)
			b.Write(make([]byte, (512-len(m.Data)%512)%512))
			continue
		}
		h := &tar.Header{Name: m.Name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m.Data)), ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			fatal(t, err)
		}
		if _, err := tw.Write(m.Data); err != nil {
			fatal(t, err)
		}
	}
	if err := tw.Close(); err != nil {
		fatal(t, err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		fatal(t, err)
	}
	return p
}

// sparseHeader is an old-GNU sparse header (type 'S') for a file of
// realSize bytes whose last stored bytes are its only data.
func sparseHeader(name string, realSize, stored int64) []byte {
	h := make([]byte, 512)
	copy(h[0:100], name)
	octal := func(b []byte, v int64) { copy(b, fmt.Sprintf("%0*o", len(b)-1, v)) }
	octal(h[100:108], 0o644)
	octal(h[108:116], 0)
	octal(h[116:124], 0)
	octal(h[124:136], stored)
	octal(h[136:148], 0)
	h[156] = tar.TypeGNUSparse
	copy(h[257:265], "ustar  \x00")
	octal(h[386:398], realSize-stored) // sparse[0].offset
	octal(h[398:410], stored)          // sparse[0].numbytes
	octal(h[483:495], realSize)        // realsize
	copy(h[148:156], "        ")
	var sum int64
	for _, c := range h {
		sum += int64(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return h
}

// replace returns members with the member named name replaced by m (and
// renamed to m.Name).
func replace(members []Member, name string, m Member) []Member {
	out := append([]Member(nil), members...)
	for i := range out {
		if out[i].Name == name {
			out[i] = m
			return out
		}
	}
	panic("hostile: no member " + name)
}

func find(members []Member, name string) Member {
	for _, m := range members {
		if m.Name == name {
			return m
		}
	}
	panic("hostile: no member " + name)
}

// small is a valid one-layer image for the tarball cases.
func small(t testing.TB) v1.Image {
	return Image(t, Layer(Dir("usr/local/bin/", 0o755), File("usr/local/bin/app", 0o555, "app")))
}

// SparseIndex is a 4.5 KB image tarball whose index.json is a GNU sparse
// file of 1 GiB: a reader that reads it whole takes 1 GiB of memory (2.2 GB
// RSS before issue 14). The rest of the archive is a valid image.
func SparseIndex(t testing.TB) string {
	helper(t)
	ms := Members(t, small(t))
	idx := find(ms, "index.json")
	return WriteTarball(t, replace(ms, "index.json", Member{Name: "index.json", Data: idx.Data, Sparse: 1 << 30})...)
}

// SelfNestedIndex is an image tarball whose index.json names a nested index
// at digest D, and the blob stored at D is an index naming D again. Its
// content does not hash to D: a reader that checks digests refuses it, one
// that does not loops forever.
func SelfNestedIndex(t testing.TB) string {
	helper(t)
	d := digestOf([]byte("hostile: an index that names itself"))
	var self []byte
	for range 3 { // the size field settles once its digit count does
		self = mustJSON(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex,
			Manifests: []v1.Descriptor{{MediaType: types.OCIImageIndex, Size: int64(len(self)), Digest: d}}})
	}
	index := mustJSON(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex,
		Manifests: []v1.Descriptor{{MediaType: types.OCIImageIndex, Size: int64(len(self)), Digest: d}}})
	return WriteTarball(t,
		Member{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		Member{Name: BlobPath(d), Data: self},
		Member{Name: "index.json", Data: index})
}

// NestedIndex is a valid image wrapped in depth nested indexes, each blob
// with its true digest: deeper than any real tool writes (Dagger and
// BuildKit write one), it tests the nesting limit.
func NestedIndex(t testing.TB, depth int) string {
	helper(t)
	ms := Members(t, small(t))
	idx := find(ms, "index.json").Data
	for i := 0; i < depth; i++ {
		ms = append(ms, Member{Name: BlobPath(digestOf(idx)), Data: idx})
		idx = Index(types.OCIImageIndex, idx)
	}
	return WriteTarball(t, replace(ms, "index.json", Member{Name: "index.json", Data: idx})...)
}

// Decoy is the image manifest.json of IndexManifestMismatch names: one
// layer with a setuid shell, which a reader of index.json never sees.
func Decoy(t testing.TB) v1.Image {
	return Image(t, Layer(File("usr/local/bin/app", 0o555, "app"), Entry{Name: "bin/sh", Mode: 0o4755, Data: []byte("decoy shell")}))
}

// IndexManifestMismatch is an image tarball whose index.json names one
// image (the small valid one) and whose manifest.json names another
// (Decoy), both complete in the archive. go-image's gates read index.json;
// Trivy reads manifest.json: each sees another image. A safe reader
// refuses the archive.
func IndexManifestMismatch(t testing.TB) string {
	helper(t)
	ms := Members(t, small(t))
	decoy := Members(t, Decoy(t))
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.Name] = true
	}
	for _, m := range decoy {
		if !seen[m.Name] && m.Name != "index.json" && m.Name != "manifest.json" {
			ms = append(ms, m)
		}
	}
	return WriteTarball(t, replace(ms, "manifest.json", find(decoy, "manifest.json"))...)
}

// LayerMegabytes is the size of LyingSize's layer: 5 MB of incompressible
// data.
const LayerMegabytes = 5

// LyingSize is an image tarball whose manifest declares its 5 MB layer
// (LayerMegabytes) to be 1 byte, with every digest consistent: a size gate
// that adds declared sizes passes a 100 kB budget. A safe reader measures
// the blob and refuses the lie.
func LyingSize(t testing.TB) string {
	helper(t)
	data := make([]byte, LayerMegabytes*1000*1000)
	r := rand.New(rand.NewChaCha8([32]byte{'h', 'o', 's', 't', 'i', 'l', 'e'}))
	for i := 0; i < len(data); i += 8 {
		binary64(data[i:], r.Uint64())
	}
	img := Image(t, Layer(File("usr/local/bin/app", 0o555, "app"), Entry{Name: "data/blob", Data: data}))
	return rewriteManifest(t, img, func(m *v1.Manifest) { m.Layers[0].Size = 1 })
}

func binary64(b []byte, v uint64) {
	for i := 0; i < 8 && i < len(b); i++ {
		b[i] = byte(v >> (8 * i))
	}
}

// rewriteManifest writes img's tarball with its manifest edited, the
// manifest blob and index.json updated to the edited manifest's digest.
func rewriteManifest(t testing.TB, img v1.Image, edit func(*v1.Manifest)) string {
	helper(t)
	ms := Members(t, img)
	raw, err := img.RawManifest()
	if err != nil {
		fatal(t, err)
	}
	m, err := img.Manifest()
	if err != nil {
		fatal(t, err)
	}
	m = m.DeepCopy()
	edit(m)
	edited := mustJSON(m)
	ms = replace(ms, BlobPath(digestOf(raw)), Member{Name: BlobPath(digestOf(edited)), Data: edited})
	return WriteTarball(t, replace(ms, "index.json", Member{Name: "index.json", Data: Index(m.MediaType, edited)})...)
}

// LyingDigest is an image tarball whose only layer blob, stored under the
// digest of a 0555 /usr/local/bin/app, holds a setuid one of the same size
// instead. A reader that does not hash what it reads judges the file the
// manifest does not name.
func LyingDigest(t testing.TB) string {
	helper(t)
	honest := Tar(File("usr/local/bin/app", 0o555, "benign!!"))
	swapped := Tar(File("usr/local/bin/app", 0o4755, "evil!!!!"))
	if len(honest) != len(swapped) {
		panic("hostile: LyingDigest's layers differ in size")
	}
	ms := Members(t, Image(t, Layer(File("usr/local/bin/app", 0o555, "benign!!"))))
	name := BlobPath(digestOf(honest))
	return WriteTarball(t, replace(ms, name, Member{Name: name, Data: swapped})...)
}
