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
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// Image appends go-image's layer (binary, passwd, group, CA bundle) to base
// and sets the recipe's config. o must be normalized.
func Image(base v1.Image, o recipe.Options, binary []byte) (v1.Image, error) {
	p, err := recipe.ParsePlatform(o.Platform)
	if err != nil {
		return nil, err
	}
	bcf, err := base.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("base config: %w", err)
	}
	if bcf.OS != "" && (bcf.OS != p.OS || bcf.Architecture != p.Arch) {
		return nil, fmt.Errorf("base image is %s/%s but the target platform is %s: use a base for %s", bcf.OS, bcf.Architecture, p, p)
	}
	passwd, group, err := accounts(base)
	if err != nil {
		return nil, err
	}
	files, err := o.Files(passwd, group, binary)
	if err != nil {
		return nil, err
	}
	layer, err := Layer(files, o.Created())
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(base, mutate.Addendum{
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
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Arch, p.Variant
	cf.Created = v1.Time{Time: o.Created()}
	cf.Config.User = rc.User
	cf.Config.Entrypoint = rc.Entrypoint
	cf.Config.Cmd = nil
	cf.Config.WorkingDir = rc.WorkingDir
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	for k, v := range rc.Labels {
		cf.Config.Labels[k] = v
	}
	cf.Config.Env = append(cf.Config.Env, rc.Env...)
	return mutate.ConfigFile(img, cf)
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
