// Package assemble turns a compiled binary and the recipe into an OCI image
// without a container engine, the way ko does: one deterministic layer of
// go-image's files appended to the base, and the recipe's config.
package assemble

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/safetext"
)

// Scratch returns an empty OCI image for the platform, the scratch base.
func Scratch(p recipe.Platform) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Arch, p.Variant
	cf.RootFS.Type = "layers"
	return mutate.ConfigFile(img, cf)
}

// Layer packs files into a tar layer whose bytes depend only on the files and
// mtime: entries in the given order, fixed owners, no user or group names.
func Layer(files []recipe.File, mtime time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{
			Name:    strings.TrimPrefix(f.Path, "/"),
			Mode:    f.Mode,
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if f.Dir {
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", f.Path, err)
		}
		if !f.Dir {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, fmt.Errorf("layer entry %s: %w", f.Path, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	// The compressed bytes are kept once made: the digest, the size gate,
	// the tarball and the push each read them, and a gzip of the layer
	// costs about as much as everything else of a warm release's assembly
	// (0.1 s for the example service's 6.5 MB).
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

// Base is the image go-image's layer goes on: nothing (scratch), or a
// pulled base with the name and digest it was pulled by.
type Base struct {
	// Image is the base for the target platform; nil means scratch.
	Image v1.Image
	// Name and Digest are the reference the base was pulled by (see
	// recipe.BaseName) and the digest that reference resolved to. They
	// become the image's base annotations.
	Name   string
	Digest v1.Hash
}

// Image builds the final image: the base's layers, then go-image's layer
// (binary, passwd, group, CA bundle), with the recipe's config. o must be
// normalized.
//
// The image is made afresh rather than appended to the base: it takes the
// base's layer blobs, Env and Labels, and nothing of the base's manifest or
// config bytes. A Dagger engine hands a module the base re-exported, with
// the same layer blobs but its own config (creation times, history), and the
// CLI pulls the registry's original; starting afresh makes both executors
// produce the same digest. Base layers are re-typed to OCI media types
// (same bytes) so the manifest is one spec throughout; the base's history is
// replaced by one entry per layer naming the base.
func Image(b Base, o recipe.Options, binary []byte) (v1.Image, error) {
	p, err := recipe.ParsePlatform(o.Platform)
	if err != nil {
		return nil, err
	}
	img, err := Scratch(p)
	if err != nil {
		return nil, err
	}
	var passwd, group string
	var env []string
	labels := map[string]string{}
	if b.Image != nil {
		bcf, err := b.Image.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("base config: %w", err)
		}
		// A base that names no platform cannot be checked against the
		// target, and the OCI image spec requires both fields: judging it
		// as matching would let another architecture's files (a shell, a
		// CA tool) into an image labelled for this one.
		if bcf.OS == "" || bcf.Architecture == "" {
			return nil, fmt.Errorf("base image %s names no OS or architecture in its config (the OCI image spec requires both), so it cannot be checked against the target platform %s: use a base image built for %s", safetext.Line(b.Name), p, p)
		}
		if bcf.OS != p.OS || bcf.Architecture != p.Arch {
			return nil, fmt.Errorf("base image is %s/%s but the target platform is %s: use a base for %s", bcf.OS, bcf.Architecture, p, p)
		}
		if err := checkBaseEnv(b.Name, bcf.Config.Env); err != nil {
			return nil, err
		}
		if passwd, group, err = accounts(b.Image); err != nil {
			return nil, err
		}
		env = bcf.Config.Env
		for k, v := range bcf.Config.Labels {
			if describesImage(k) {
				continue
			}
			labels[k] = v
		}
		layers, err := b.Image.Layers()
		if err != nil {
			return nil, fmt.Errorf("base layers: %w", err)
		}
		from := b.Name
		if b.Digest != (v1.Hash{}) {
			from += "@" + b.Digest.String()
		}
		for i, l := range layers {
			ol, err := ociLayer(l)
			if err != nil {
				return nil, fmt.Errorf("base layer %d: %w", i+1, err)
			}
			img, err = mutate.Append(img, mutate.Addendum{Layer: ol, MediaType: ol.mt, History: v1.History{
				Created:   v1.Time{Time: o.Created()},
				CreatedBy: fmt.Sprintf("go-image: base layer %d/%d of %s", i+1, len(layers), from),
				Comment:   "go-image base",
			}})
			if err != nil {
				return nil, err
			}
		}
	}
	files, err := o.Files(passwd, group, binary)
	if err != nil {
		return nil, err
	}
	layer, err := Layer(files, o.Created())
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: o.Created()},
			CreatedBy: "go-image: " + o.BinaryPath() + ", /etc/passwd, /etc/group, " + recipe.CABundlePath,
			Comment:   "go-image",
		},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	rc := o.ImageConfig()
	cf.Created = v1.Time{Time: o.Created()}
	cf.Config.User = rc.User
	cf.Config.Entrypoint = rc.Entrypoint
	cf.Config.WorkingDir = rc.WorkingDir
	for k, v := range rc.Labels {
		labels[k] = v
	}
	cf.Config.Labels = labels
	cf.Config.Env = append(append([]string(nil), env...), rc.Env...)
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	if b.Image == nil {
		return img, nil
	}
	ann := map[string]string{recipe.AnnotationBaseName: b.Name}
	if b.Digest != (v1.Hash{}) {
		ann[recipe.AnnotationBaseDigest] = b.Digest.String()
	}
	return mutate.Annotations(img, ann).(v1.Image), nil
}

// retyped is a base layer under its OCI media type: Docker's gzip layer
// and OCI's are the same bytes.
type retyped struct {
	v1.Layer
	mt types.MediaType
}

func (l retyped) MediaType() (types.MediaType, error) { return l.mt, nil }

func ociLayer(l v1.Layer) (retyped, error) {
	mt, err := l.MediaType()
	if err != nil {
		return retyped{}, err
	}
	switch mt {
	case types.DockerLayer:
		mt = types.OCILayer
	case types.DockerUncompressedLayer:
		mt = types.OCIUncompressedLayer
	case types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer:
	default:
		return retyped{}, fmt.Errorf("media type %s: go-image copies only gzip, zstd and uncompressed tar layers", mt)
	}
	return retyped{l, mt}, nil
}

// accounts reads /etc/passwd and /etc/group from the base's filesystem, ""
// when absent (scratch). Links are followed as in the running container.
func accounts(base v1.Image) (passwd, group string, err error) {
	layers, err := base.Layers()
	if err != nil || len(layers) == 0 {
		return "", "", err
	}
	ctx := context.Background()
	keep := func(e imagefs.Entry) bool { return e.Path == recipe.PasswdPath || e.Path == recipe.GroupPath }
	fsys, err := imagefs.Read(ctx, base, keep, 1<<20)
	if err != nil {
		return "", "", fmt.Errorf("read base filesystem: %w", err)
	}
	read := func(p string) (string, error) {
		b, err := fsys.ReadFile(ctx, p)
		if errors.Is(err, imagefs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("read base %s: %w", p, err)
		}
		return string(b), nil
	}
	if passwd, err = read(recipe.PasswdPath); err != nil {
		return "", "", err
	}
	if group, err = read(recipe.GroupPath); err != nil {
		return "", "", err
	}
	return passwd, group, nil
}

// describesImage says whether a label is an OCI annotation that describes
// the image itself (its source, revision, version, title, authors…): the
// final image's are the recipe's, never the base's, which would otherwise
// name the base author's repository and revision wherever the recipe sets
// none. org.opencontainers.image.base.* describe the base and stay.
func describesImage(label string) bool {
	const oci = "org.opencontainers.image."
	return strings.HasPrefix(label, oci) && !strings.HasPrefix(label, oci+"base.")
}
