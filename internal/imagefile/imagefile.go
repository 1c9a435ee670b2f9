// Package imagefile reads and writes images as files: the tarball the CLI
// writes and the one Dagger's Container.AsTarball exports. Both gates and
// push read images only through here, so every format is handled once.
package imagefile

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Write writes img as a docker-save style tarball tagged tag; `docker load`,
// `crane push` and go-image's own readers accept it.
func Write(path, tag string, img v1.Image) error {
	ref, err := name.NewTag(tag, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("image tag %q: %w", tag, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".go-image-*.tar")
	if err != nil {
		return fmt.Errorf("write %s: %w (is the directory writable?)", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tarball.Write(ref, img, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Rename last: a failed build never leaves a half-written image behind.
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Read opens an image tarball (docker save format or an OCI layout tar) or an
// OCI layout directory holding exactly one image.
func Read(path string) (v1.Image, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", path, err)
	}
	if st.IsDir() {
		return fromLayout(path)
	}
	names, err := tarNames(path)
	if err != nil {
		return nil, fmt.Errorf("read image %s: not a tar archive (%v): pass the file written by `go-image build --output` or `dagger call build export`", path, err)
	}
	if names["manifest.json"] {
		img, err := tarball.ImageFromPath(path, nil)
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w", path, err)
		}
		return img, nil
	}
	if names["index.json"] {
		dir, err := os.MkdirTemp("", "go-image-layout-")
		if err != nil {
			return nil, err
		}
		if err := untar(path, dir); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("read image %s: %w", path, err)
		}
		// The layout's blobs are read lazily; the directory must outlive the
		// image, so it is left for the OS temp cleaner rather than deleted here.
		return fromLayout(dir)
	}
	return nil, fmt.Errorf("read image %s: neither manifest.json nor index.json inside: not an image tarball", path)
}

func fromLayout(dir string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("read OCI layout %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read OCI layout %s: %w", dir, err)
	}
	if len(im.Manifests) != 1 {
		return nil, fmt.Errorf("read OCI layout %s: holds %d manifests, want exactly one image", dir, len(im.Manifests))
	}
	d := im.Manifests[0]
	if d.MediaType.IsIndex() {
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return nil, err
		}
		if len(cm.Manifests) != 1 {
			return nil, fmt.Errorf("read OCI layout %s: a multi-platform index of %d images; check each platform's image", dir, len(cm.Manifests))
		}
		return child.Image(cm.Manifests[0].Digest)
	}
	return idx.Image(d.Digest)
}

func tarNames(path string) (map[string]bool, error) {
	f, err := os.Open(path)
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
		names[strings.TrimPrefix(filepath.Clean(hdr.Name), "./")] = true
	}
	if len(names) == 0 {
		return nil, errors.New("empty archive")
	}
	return names, nil
}

func untar(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(hdr.Name)
		if filepath.IsAbs(name) || strings.HasPrefix(name, "..") {
			return fmt.Errorf("unsafe path %q in archive", hdr.Name)
		}
		dst := filepath.Join(dir, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			out, err := os.Create(dst)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		}
	}
}
