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
//
// Reading trusts nothing the file says about itself (ReadContext): every
// read is bounded (internal/limits), every blob is checked against the
// digest and size that name it while it streams (internal/blob), and an
// archive that different tools could read as different images (two
// members of one name, index.json and manifest.json naming different
// images) is refused.
package imagefile

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
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
