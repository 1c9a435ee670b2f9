// Package imagefile reads and writes images as files: the tarball the CLI
// writes and the one Dagger's Container.AsTarball exports. Gates and push
// read images only through here, so every format is handled once.
//
// The written format is the one `docker save` has produced since Docker 25:
// an OCI image layout (oci-layout, index.json, blobs/sha256/…) plus a
// manifest.json whose paths point into blobs/. The OCI half keeps the
// manifest byte for byte, so the digest read back is the digest built and
// pushed; the manifest.json half keeps `docker load` and `crane push` of
// older versions working.
package imagefile

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Write writes img to path as an image tarball tagged tag. The file appears
// only once complete: a failed write never leaves half an image behind.
func Write(path, tag string, img v1.Image) error {
	ref, err := name.NewTag(tag, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("image tag %q: %w", tag, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".go-image-*.tar")
	if err != nil {
		return fmt.Errorf("write %s: %w (is the directory writable?)", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := writeTar(tmp, ref, img); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writeTar(w io.Writer, ref name.Tag, img v1.Image) error {
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	index, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: mt,
			Size:      int64(len(manifest)),
			Digest:    digest,
			Annotations: map[string]string{
				"io.containerd.image.name":          ref.String(),
				"org.opencontainers.image.ref.name": ref.TagStr(),
			},
		}},
	})
	if err != nil {
		return err
	}
	dockerManifest := []tarball.Descriptor{{Config: blobPath(cfgName), RepoTags: []string{ref.String()}}}
	tw := tar.NewWriter(w)
	put := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	putBytes := func(name string, b []byte) error { return put(name, int64(len(b)), bytes.NewReader(b)) }
	if err := putBytes("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := putBytes(blobPath(digest), manifest); err != nil {
		return err
	}
	if err := putBytes(blobPath(cfgName), config); err != nil {
		return err
	}
	seen := map[v1.Hash]bool{}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		dockerManifest[0].Layers = append(dockerManifest[0].Layers, blobPath(d))
		if seen[d] {
			continue
		}
		seen[d] = true
		size, err := l.Size()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = put(blobPath(d), size, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
	}
	dm, err := json.Marshal(dockerManifest)
	if err != nil {
		return err
	}
	if err := putBytes("index.json", index); err != nil {
		return err
	}
	if err := putBytes("manifest.json", dm); err != nil {
		return err
	}
	return tw.Close()
}

func blobPath(h v1.Hash) string { return path.Join("blobs", h.Algorithm, h.Hex) }

// Read opens an image tarball (OCI layout tar, with or without manifest.json,
// or a docker-save tar) or an OCI layout directory holding exactly one image.
func Read(p string) (v1.Image, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", p, err)
	}
	if st.IsDir() {
		return fromLayout(p)
	}
	names, err := tarNames(p)
	if err != nil {
		return nil, fmt.Errorf("read image %s: not a tar archive (%v): pass the file written by `go-image build --output` or `dagger call build export`", p, err)
	}
	switch {
	case names["index.json"]:
		img, err := fromLayoutTar(p)
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w", p, err)
		}
		return img, nil
	case names["manifest.json"]:
		img, err := tarball.ImageFromPath(p, nil)
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w", p, err)
		}
		return img, nil
	}
	return nil, fmt.Errorf("read image %s: neither index.json nor manifest.json inside: not an image tarball", p)
}

func fromLayout(dir string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("read OCI layout %s: %w", dir, err)
	}
	img, err := single(idx)
	if err != nil {
		return nil, fmt.Errorf("read OCI layout %s: %w", dir, err)
	}
	return img, nil
}

// single returns the one image an index holds, descending through a nested
// index (Dagger and BuildKit wrap the image in one).
func single(idx v1.ImageIndex) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) != 1 {
		return nil, fmt.Errorf("holds %d manifests, want exactly one image (check a multi-platform release one platform at a time)", len(im.Manifests))
	}
	d := im.Manifests[0]
	if d.MediaType.IsIndex() {
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		return single(child)
	}
	return idx.Image(d.Digest)
}

// fromLayoutTar reads an OCI layout straight out of the tar, re-reading the
// archive for each blob so nothing is unpacked to disk.
func fromLayoutTar(p string) (v1.Image, error) {
	l := tarLayout(p)
	raw, err := l.blob("index.json")
	if err != nil {
		return nil, err
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(raw, &im); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	for {
		if len(im.Manifests) != 1 {
			return nil, fmt.Errorf("holds %d manifests, want exactly one image (check a multi-platform release one platform at a time)", len(im.Manifests))
		}
		d := im.Manifests[0]
		raw, err := l.blob(blobPath(d.Digest))
		if err != nil {
			return nil, err
		}
		if !d.MediaType.IsIndex() {
			return partial.CompressedToImage(&tarImage{l: l, manifest: raw, mediaType: d.MediaType})
		}
		im = v1.IndexManifest{}
		if err := json.Unmarshal(raw, &im); err != nil {
			return nil, fmt.Errorf("nested index %s: %w", d.Digest, err)
		}
	}
}

type tarLayout string

// open returns a reader positioned at the named entry of the archive.
func (t tarLayout) open(name string) (io.ReadCloser, int64, error) {
	f, err := os.Open(string(t))
	if err != nil {
		return nil, 0, err
	}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			f.Close()
			return nil, 0, fmt.Errorf("%s: not in the archive", name)
		}
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		if path.Clean(strings.TrimPrefix(hdr.Name, "./")) == name {
			return struct {
				io.Reader
				io.Closer
			}{tr, f}, hdr.Size, nil
		}
	}
}

func (t tarLayout) blob(name string) ([]byte, error) {
	rc, _, err := t.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

type tarImage struct {
	l         tarLayout
	manifest  []byte
	mediaType types.MediaType
}

func (i *tarImage) RawManifest() ([]byte, error)        { return i.manifest, nil }
func (i *tarImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }

func (i *tarImage) RawConfigFile() ([]byte, error) {
	m, err := v1.ParseManifest(bytes.NewReader(i.manifest))
	if err != nil {
		return nil, err
	}
	return i.l.blob(blobPath(m.Config.Digest))
}

func (i *tarImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := v1.ParseManifest(bytes.NewReader(i.manifest))
	if err != nil {
		return nil, err
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if d.Digest == h {
			return &tarBlob{l: i.l, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("blob %s: not in the manifest", h)
}

type tarBlob struct {
	l    tarLayout
	desc v1.Descriptor
}

func (b *tarBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *tarBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *tarBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *tarBlob) Compressed() (io.ReadCloser, error) {
	rc, _, err := b.l.open(blobPath(b.desc.Digest))
	return rc, err
}

func tarNames(p string) (map[string]bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		names[path.Clean(strings.TrimPrefix(hdr.Name, "./"))] = true
	}
	if len(names) == 0 {
		return nil, errors.New("empty archive")
	}
	return names, nil
}
