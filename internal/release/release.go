// Package release is go-image's one release procedure, shared by the CLI and
// the Dagger module: build every platform, run every gate on every platform's
// image, and push only if no check failed — the image, or an OCI index of
// the platform images, then optionally its SBOM as a referrer.
package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/sbom"
)

// Builder builds one platform's image: local.Build for the CLI, a Dagger
// container exported to a tarball for the module.
type Builder func(ctx context.Context, p recipe.Platform) (v1.Image, error)

// Request is one release.
type Request struct {
	Platforms []recipe.Platform
	Build     Builder
	// Gates run, in order, on every platform's image.
	Gates     []gates.Gate
	Addresses []string
	Push      push.Options
	// SBOM makes Result.SBOM; AttachSBOM also pushes it as a referrer of
	// the pushed digest.
	SBOM, AttachSBOM bool
	// Version and Created describe the image in the SBOM (recipe Version
	// and source date).
	Version string
	Created time.Time
	Log     io.Writer
}

// Result is what a release did. Report is set even when the release was
// blocked, so the caller can show every failed check.
type Result struct {
	Report *report.Report
	// Images are the platform images, in Platforms order.
	Images []v1.Image
	// Artifact is what was (or would have been) pushed: the image for one
	// platform, an OCI index for several.
	Artifact push.Artifact
	Digest   v1.Hash
	Pushed   *push.Result
	SBOM     []byte
	// SBOMRef is repo@sha256:… of the attached SBOM artifact.
	SBOMRef string
}

// BlockedError is returned when a gate failed: nothing was pushed.
type BlockedError struct {
	Gate *report.GateError
}

func (e *BlockedError) Error() string {
	return "release blocked, nothing pushed: " + e.Gate.Error()
}

func (e *BlockedError) Unwrap() error { return e.Gate }

// Run builds, gates and, only if every check passed, pushes.
func Run(ctx context.Context, r Request) (*Result, error) {
	log := r.Log
	if log == nil {
		log = io.Discard
	}
	if len(r.Platforms) == 0 {
		return nil, errors.New("release: no platform: give at least one, e.g. linux/amd64")
	}
	if len(r.Gates) == 0 {
		return nil, errors.New("release: no gates: go-image never pushes an image no gate has checked")
	}
	// Bad addresses fail before minutes of compiling, not after.
	tags, err := push.ParseAddresses(r.Addresses, r.Push.Insecure)
	if err != nil {
		return nil, err
	}
	res := &Result{Report: &report.Report{Image: tags[0].String()}}
	for _, p := range r.Platforms {
		fmt.Fprintf(log, "go-image: build %s\n", p)
		img, err := r.Build(ctx, p)
		if err != nil {
			return res, fmt.Errorf("build %s: %w", p, err)
		}
		res.Images = append(res.Images, img)
	}
	// Gates that judge the source, not the image, run with the first
	// platform only: their verdict is the same for every platform.
	imageOnly := map[string]bool{}
	for _, g := range gates.ImageGates(r.Gates) {
		imageOnly[g.Name()] = true
	}
	for i, img := range res.Images {
		p := r.Platforms[i]
		fmt.Fprintf(log, "go-image: gates on %s\n", p)
		gs := r.Gates
		if i > 0 {
			gs = gates.ImageGates(r.Gates)
		}
		rep := gates.Run(ctx, img, gs...)
		for _, x := range rep.Results {
			if len(r.Platforms) > 1 && imageOnly[x.Gate] {
				// IDs stay stable for machines; the message says which
				// platform's image the verdict is about.
				x.Message = p.String() + ": " + x.Message
			}
			res.Report.Add(x)
		}
	}
	if err := res.Report.Err(); err != nil {
		var ge *report.GateError
		errors.As(err, &ge)
		return res, &BlockedError{Gate: ge}
	}
	if res.Artifact, err = artifact(res.Images, r.Platforms); err != nil {
		return res, err
	}
	if res.Digest, err = res.Artifact.Digest(); err != nil {
		return res, err
	}
	if r.SBOM || r.AttachSBOM {
		if res.SBOM, err = document(res.Images, r, tags[0].Context()); err != nil {
			return res, err
		}
	}
	pushed, err := push.Push(ctx, res.Artifact, r.Addresses, r.Push)
	if err != nil {
		return res, err
	}
	res.Pushed = &pushed
	if r.AttachSBOM {
		desc, err := partial.Descriptor(res.Artifact)
		if err != nil {
			return res, err
		}
		art, err := sbom.Referrer(res.SBOM, *desc, r.Created)
		if err != nil {
			return res, err
		}
		up, err := push.Upload(ctx, art, r.Addresses, r.Push)
		if err != nil {
			return res, fmt.Errorf("image pushed as %s, but attaching its SBOM failed: %w", pushed.Ref(), err)
		}
		res.SBOMRef = up.Ref()
		fmt.Fprintf(log, "go-image: SBOM attached as %s\n", res.SBOMRef)
	}
	return res, nil
}

// artifact is the image for one platform, else an OCI index whose
// descriptors carry each image's platform.
func artifact(imgs []v1.Image, ps []recipe.Platform) (push.Artifact, error) {
	if len(imgs) == 1 {
		return imgs[0], nil
	}
	return Index(imgs, ps)
}

// Index returns the OCI image index of the platform images, in order.
func Index(imgs []v1.Image, ps []recipe.Platform) (v1.ImageIndex, error) {
	if len(imgs) != len(ps) {
		return nil, fmt.Errorf("index: %d images for %d platforms", len(imgs), len(ps))
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	adds := make([]mutate.IndexAddendum, len(imgs))
	for i, img := range imgs {
		mt, err := img.MediaType()
		if err != nil {
			return nil, err
		}
		if mt != types.OCIManifestSchema1 {
			// An OCI index of Docker manifests is valid but mixes specs;
			// go-image builds OCI images, so this is a wiring bug.
			return nil, fmt.Errorf("index: %s image has media type %s, want %s", ps[i], mt, types.OCIManifestSchema1)
		}
		p := ps[i]
		adds[i] = mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			MediaType: types.OCIManifestSchema1,
			Platform:  &v1.Platform{OS: p.OS, Architecture: p.Arch, Variant: p.Variant},
		}}
	}
	idx = mutate.AppendManifests(idx, adds...)
	ann, err := baseAnnotations(imgs)
	if err != nil || len(ann) == 0 {
		return idx, err
	}
	return mutate.Annotations(idx, ann).(v1.ImageIndex), nil
}

// baseAnnotations are the platform images' base annotations, which the
// index repeats: every platform is built on the same base reference and
// digest (local.Base, the module's base), so they agree, or it is a bug.
func baseAnnotations(imgs []v1.Image) (map[string]string, error) {
	var ann map[string]string
	for i, img := range imgs {
		m, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		got := map[string]string{}
		for _, k := range []string{recipe.AnnotationBaseName, recipe.AnnotationBaseDigest} {
			if v, ok := m.Annotations[k]; ok {
				got[k] = v
			}
		}
		if i == 0 {
			ann = got
			continue
		}
		for _, k := range []string{recipe.AnnotationBaseName, recipe.AnnotationBaseDigest} {
			if got[k] != ann[k] {
				return nil, fmt.Errorf("index: platform images disagree on %s (%q, %q): every platform must be built on one base", k, ann[k], got[k])
			}
		}
	}
	return ann, nil
}

func document(imgs []v1.Image, r Request, repo name.Repository) ([]byte, error) {
	infos := make([]*debug.BuildInfo, len(imgs))
	plats := make([]string, len(imgs))
	for i, img := range imgs {
		bi, err := sbom.BuildInfo(img)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Platforms[i], err)
		}
		infos[i] = bi
		plats[i] = r.Platforms[i].String()
	}
	return sbom.Generate(sbom.Subject{Name: repo.String(), Version: r.Version, Platforms: plats, Created: r.Created}, infos...)
}
