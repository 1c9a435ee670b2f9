// Package release is go-image's one release procedure, shared by the CLI and
// the Dagger module: build every platform, run every gate on every platform's
// image, and push only if no check failed — the image, or an OCI index of
// the platform images, by digest; then, with a key, sign it and attach its
// signed attestations (provenance, SBOM, gate report), or else optionally
// its SBOM as a referrer; and only then move the tags.
package release

import (
	"context"
	"encoding/json"
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

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/sbom"
	"dagger/go-image/internal/sign"
	"dagger/go-image/internal/timing"
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
	// the pushed digest (a signed release attests it instead).
	SBOM, AttachSBOM bool
	// SBOMFormat is the SBOM's format; zero is sbom.DefaultFormat (SPDX).
	SBOMFormat sbom.Format
	// Sign, when set, signs the release after the upload and before the
	// tags: see Signing.
	Sign *Signing
	// Version and Created describe the image in the SBOM (recipe Version
	// and source date).
	Version string
	Created time.Time
	Log     io.Writer
	// Settings are the choices behind the gates, with their origins,
	// for the report (and so the signed gate report).
	Settings []report.Setting
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
	// Signatures are the signature tags written, the pushed digest's last;
	// set only once every signature and attestation was written, so a
	// failed signing never reads as signed.
	Signatures []string
	// Attestations are the attestation tags written, one per repository.
	Attestations []string
	// Statements are the signed statements: provenance, SBOM, gate report.
	Statements []attest.Statement

	// What the later phases need from prepare.
	started, finished time.Time
	infos             []*debug.BuildInfo
}

// Signing is what a signed release needs besides the image.
type Signing struct {
	Key *sign.Key
	// Build describes the build for the provenance and the gate report:
	// the executor sets Recipe, BuilderID, GoImageVersion, the builder
	// image dependency, and may set StartedOn and InvocationID. Run adds
	// the platforms, the Go toolchain read from the binaries, the base
	// image the images record (recipe.AnnotationBaseName/Digest) and the
	// time the gates finished.
	Build attest.Build
}

// SignError is returned when the image was uploaded by digest but signing
// or attesting it failed: no tag was moved and the image is not signed.
type SignError struct {
	Ref string
	Err error
}

func (e *SignError) Error() string {
	return fmt.Sprintf("image uploaded as %s but not signed, and no tag moved: %v", e.Ref, e.Err)
}

func (e *SignError) Unwrap() error { return e.Err }

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
	res, err := prepare(ctx, r)
	if err != nil {
		return res, err
	}
	if err := publish(ctx, r, res); err != nil {
		return res, err
	}
	return res, tag(ctx, r, res)
}

// prepare builds every platform, gates every image and, when every check
// passed, makes the artifact and its SBOM: everything but the registry.
func prepare(ctx context.Context, r Request) (*Result, error) {
	log := logOf(r)
	if len(r.Platforms) == 0 {
		return nil, errors.New("release: no platform: give at least one, e.g. linux/amd64")
	}
	if len(r.Gates) == 0 {
		return nil, errors.New("release: no gates: go-image never pushes an image no gate has checked")
	}
	if r.Sign != nil && r.Sign.Key == nil {
		return nil, errors.New("release: signing requested without a key: load one with sign.LoadKey")
	}
	// Bad addresses fail before minutes of compiling, not after.
	tags, err := push.ParseAddresses(r.Addresses, r.Push.Insecure)
	if err != nil {
		return nil, err
	}
	res := &Result{Report: &report.Report{Image: tags[0].String(), Settings: r.Settings}, started: time.Now()}
	if err := buildAndGate(ctx, r, res, log); err != nil {
		return res, err
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
	res.finished = time.Now()
	if r.SBOM || r.AttachSBOM || r.Sign != nil {
		if res.infos, err = buildInfos(res.Images, r.Platforms); err != nil {
			return res, err
		}
		res.SBOM, err = r.SBOMFormat.Generate(sbom.Subject{Name: tags[0].Context().String(), Version: r.Version, Platforms: platformNames(r.Platforms), Created: r.Created}, res.infos...)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// publish uploads the prepared artifact by digest and signs it, or
// attaches its SBOM: everything but the tags.
func publish(ctx context.Context, r Request, res *Result) error {
	log := logOf(r)
	end := timing.Start(ctx, "push (upload by digest)")
	up, err := push.Upload(ctx, res.Artifact, r.Addresses, r.Push)
	end()
	if err != nil {
		if len(up.References) > 0 {
			// Uploaded to some repositories before another refused:
			// kept, so that a release of several names them.
			res.Pushed = &up
		}
		return err
	}
	res.Pushed = &up
	switch {
	case r.Sign != nil:
		b := r.Sign.Build
		if b.StartedOn.IsZero() {
			b.StartedOn = res.started
		}
		b.FinishedOn = res.finished
		b.Platforms = platformNames(r.Platforms)
		b.Dependencies = withGo(b.Dependencies, res.infos[0].GoVersion)
		// The base the images were built on, as they record it: pinned
		// by digest by the executor that pulled it.
		base, err := baseAnnotations(res.Images)
		if err != nil {
			return err
		}
		if name := base[recipe.AnnotationBaseName]; name != "" {
			b.Dependencies = append(b.Dependencies, attest.Image("base", name, base[recipe.AnnotationBaseDigest]))
		}
		end := timing.Start(ctx, "sign and attest")
		err = signRelease(ctx, res, r, b)
		end()
		if err != nil {
			return &SignError{Ref: up.Ref(), Err: err}
		}
	case r.AttachSBOM:
		desc, err := partial.Descriptor(res.Artifact)
		if err != nil {
			return err
		}
		art, err := sbom.ReferrerOf(r.SBOMFormat, res.SBOM, *desc, r.Created)
		if err != nil {
			return err
		}
		ref, err := push.Upload(ctx, art, r.Addresses, r.Push)
		if err != nil {
			return fmt.Errorf("image uploaded as %s, but attaching its SBOM failed, so no tag moved: %w", up.Ref(), err)
		}
		res.SBOMRef = ref.Ref()
		fmt.Fprintf(log, "go-image: SBOM attached as %s\n", res.SBOMRef)
	}
	return nil
}

// tag moves the tags, last: a tag names an image only once everything
// about it is in the registry.
func tag(ctx context.Context, r Request, res *Result) error {
	defer timing.Start(ctx, "push (tags)")()
	var err error
	res.Pushed.Tags, err = push.Tag(ctx, res.Artifact, r.Addresses, r.Push)
	return err
}

func logOf(r Request) io.Writer {
	if r.Log == nil {
		return io.Discard
	}
	return r.Log
}

// signRelease attests the pushed digest in every repository, then signs
// the platform images and, last, the pushed digest: a signature on it
// means its attestations are there too.
func signRelease(ctx context.Context, res *Result, r Request, b attest.Build) error {
	key := r.Sign.Key
	prov, err := b.Provenance()
	if err != nil {
		return err
	}
	var repos []string
	for _, ref := range res.Pushed.References {
		d, err := name.NewDigest(ref)
		if err != nil {
			return err
		}
		repos = append(repos, d.Context().String())
	}
	gate := attest.NewGateReport(res.Report, res.Pushed.Ref(), b)
	var sbomDoc json.RawMessage = res.SBOM
	var sts []attest.Statement
	for _, p := range []struct {
		typ  string
		pred any
	}{{attest.SLSAProvenanceType, prov}, {r.SBOMFormat.PredicateType(), sbomDoc}, {attest.GateReportType, gate}} {
		st, err := attest.New(p.typ, p.pred, res.Digest, repos...)
		if err != nil {
			return err
		}
		sts = append(sts, st)
	}
	var children []v1.Hash
	if len(res.Images) > 1 {
		for _, img := range res.Images {
			d, err := img.Digest()
			if err != nil {
				return err
			}
			children = append(children, d)
		}
	}
	log := r.Log
	if log == nil {
		log = io.Discard
	}
	var atts, sigs []string
	for _, ref := range res.Pushed.References {
		d, err := name.NewDigest(ref)
		if err != nil {
			return err
		}
		tag, err := key.Attest(ctx, d, sts, r.Push)
		if err != nil {
			return err
		}
		atts = append(atts, tag.String())
		fmt.Fprintf(log, "go-image: attested %s (provenance, SBOM, gate report) at %s\n", d, tag)
		for _, c := range children {
			tag, err := key.Image(ctx, d.Context().Digest(c.String()), r.Push)
			if err != nil {
				return err
			}
			sigs = append(sigs, tag.String())
		}
		tag, err = key.Image(ctx, d, r.Push)
		if err != nil {
			return err
		}
		sigs = append(sigs, tag.String())
		fmt.Fprintf(log, "go-image: signed %s at %s\n", d, tag)
	}
	res.Statements, res.Attestations, res.Signatures = sts, atts, sigs
	return nil
}

// withGo adds the Go toolchain the binaries record, unless the executor
// already named it.
func withGo(deps []attest.ResourceDescriptor, goVersion string) []attest.ResourceDescriptor {
	for _, d := range deps {
		if d.Name == "go" {
			return deps
		}
	}
	return append(append([]attest.ResourceDescriptor(nil), deps...), attest.GoToolchain(goVersion))
}

func platformNames(ps []recipe.Platform) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
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

func buildInfos(imgs []v1.Image, ps []recipe.Platform) ([]*debug.BuildInfo, error) {
	infos := make([]*debug.BuildInfo, len(imgs))
	for i, img := range imgs {
		bi, err := sbom.BuildInfo(img)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ps[i], err)
		}
		infos[i] = bi
	}
	return infos, nil
}
