package imagefs

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// LinkedOnly applies img's layers as Validate does and returns the paths
// of the files whose contents no surviving path holds as a regular file
// of a layer: a later layer deleted or replaced the path the file was
// created at, and it lives on through a hard link (layer 1's /bin/sh
// linked to /bin/busybox, layer 2 replacing /bin/busybox). A runtime
// runs such a file; a reader of layers that skips hard links, as Trivy
// does, never reads it. Sorted; none for the images real builds write,
// but for an upgrade under a hard link.
func LinkedOnly(ctx context.Context, img v1.Image) ([]string, error) {
	ls, err := OpenLayers(ctx, img)
	if err != nil {
		return nil, err
	}
	a := newApplier(ls)
	if err := a.applyAll(ctx); err != nil {
		return nil, err
	}
	alive := map[*node]bool{}
	a.visit(func(n *node) { alive[n] = true })
	var out []string
	for ino, n := range a.canonical() {
		if !alive[ino.origin] {
			out = append(out, n.path())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Flatten returns img's flattened filesystem (Walk) as an image of one
// layer, with img's config but for its layers and history: every file at
// one path as a regular file, its other paths as hard links to it. For a
// reader of layers that must see every file a runtime runs, and would not
// through img's own layers (LinkedOnly). The layer is written to a file
// in dir, which the image reads: keep dir until the image is no longer
// used.
func Flatten(ctx context.Context, img v1.Image, dir string) (v1.Image, error) {
	f, err := os.CreateTemp(dir, "flat-*.tar")
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(f)
	werr := Walk(ctx, img, func(e Entry, r io.Reader) error {
		h := &tar.Header{Name: strings.TrimPrefix(e.Path, "/"), Typeflag: e.Type, Mode: int64(e.Mode.Perm()),
			Uid: e.UID, Gid: e.GID, Size: e.Size, Linkname: e.Linkname, Format: tar.FormatPAX}
		if e.Path == "/" {
			h.Name = "./"
		}
		if e.Type == tar.TypeLink {
			h.Linkname = strings.TrimPrefix(e.Linkname, "/")
		}
		if !e.Regular() {
			h.Size = 0
		}
		if e.Mode&os.ModeSetuid != 0 {
			h.Mode |= 0o4000
		}
		if e.Mode&os.ModeSetgid != 0 {
			h.Mode |= 0o2000
		}
		if e.Mode&os.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("flatten %s: %w", e.Path, err)
		}
		if e.Regular() {
			if _, err := io.Copy(tw, r); err != nil {
				return fmt.Errorf("flatten %s: %w", e.Path, err)
			}
		}
		return nil
	})
	if err := errors.Join(werr, tw.Close(), f.Close()); err != nil {
		return nil, err
	}
	l, err := tarball.LayerFromFile(f.Name())
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs, cf.History = nil, nil
	flat, err := mutate.ConfigFile(empty.Image, cf)
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(flat, l)
}
