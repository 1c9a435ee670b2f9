// Package verify checks, for an image in a registry, what a go-image
// release with a key states about it: a signature by the key, SLSA
// provenance (optionally from a given source revision) and a gate report
// with no failed check, each signed by the key and about this very
// digest. Both executors call Image; each failure is one error that names
// its cause (errors.Is: ErrUnsigned, ErrWrongKey, ErrTampered, …).
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/limits"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/safetext"
	"dagger/go-image/internal/sign"
)

// The causes of a failed verification.
var (
	ErrUnsigned   = errors.New("not signed")
	ErrWrongKey   = errors.New("wrong key")
	ErrTampered   = errors.New("tampered attestation")
	ErrOtherImage = errors.New("about another image")
	ErrMissing    = errors.New("attestation missing")
	ErrRevision   = errors.New("wrong revision")
	ErrGateFailed = errors.New("failed gate")
	ErrGateOff    = errors.New("required gate not run")
)

// Options of a verification.
type Options struct {
	// Revision, when set, must equal the provenance's source revision.
	Revision string
	// RequireGates are gates (report.Gates) that must have run in full:
	// a policy file (go-image.yaml, which comes with the code) can switch
	// a gate off or skip its checks, and the signed report then passes
	// with those checks "skipped". Parse a list with ParseGates.
	RequireGates []string
	// Registry are the credentials and transport to read the registry with.
	Registry push.Options
}

// Result is what verified.
type Result struct {
	Digest name.Digest
	// Signatures is how many signatures by the key name the digest.
	Signatures int
	// Platforms are the index's platform images, each verified signed.
	Platforms  []name.Digest
	Provenance attest.Provenance
	Report     attest.GateReport
	// SBOM is the predicate type of the signed SBOM, "" if none.
	SBOM string
}

// Image verifies ref (a tag or a digest) with the public key v.
func Image(ctx context.Context, ref string, v signature.Verifier, o Options) (*Result, error) {
	var nopts []name.Option
	if o.Registry.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(strings.TrimSpace(ref), nopts...)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w: want REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:…", ref, err)
	}
	ropts, err := o.Registry.Remote(ctx, r.Context())
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, o.Registry.Explain(err, "read", r.String(), r.Context())
	}
	res := &Result{Digest: r.Context().Digest(desc.Digest.String())}

	if res.Signatures, err = signatures(ctx, res.Digest, v, o); err != nil {
		return res, err
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return res, o.Registry.Explain(err, "read", res.Digest.String(), r.Context())
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return res, err
		}
		// Each platform costs registry reads: a registry must not make a
		// verifier loop without end.
		if lim := limits.From(ctx).IndexManifests; len(im.Manifests) > lim {
			return res, &limits.Error{Kind: limits.IndexManifests, What: res.Digest.String(), Limit: int64(lim), Got: int64(len(im.Manifests))}
		}
		for _, m := range im.Manifests {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			child := r.Context().Digest(m.Digest.String())
			if _, err := signatures(ctx, child, v, o); err != nil {
				return res, fmt.Errorf("platform image %s: %w", platform(m), err)
			}
			res.Platforms = append(res.Platforms, child)
		}
	}
	if err := attestations(ctx, res, v, o); err != nil {
		return res, err
	}
	return res, nil
}

func platform(d v1.Descriptor) string {
	if d.Platform == nil {
		return d.Digest.String()
	}
	return d.Platform.String() + " (" + d.Digest.String() + ")"
}

// signatures counts the signatures by v over d.
func signatures(ctx context.Context, d name.Digest, v signature.Verifier, o Options) (int, error) {
	tag, err := sign.SignatureTag(d)
	if err != nil {
		return 0, err
	}
	layers, err := sign.ReadLayers(ctx, tag, o.Registry)
	if errors.Is(err, sign.ErrNotFound) {
		return 0, fmt.Errorf("%w: %s has no signature (nothing at %s): release it with a signing key (--sign-key), or sign it with `cosign sign --key`", ErrUnsigned, d, tag.TagStr())
	}
	if err != nil {
		return 0, err
	}
	n, other := 0, ""
	for _, l := range layers {
		if l.MediaType != sign.SimpleSigningMediaType || sign.VerifySignature(v, l) != nil {
			continue
		}
		var p payload.SimpleContainerImage
		if err := json.Unmarshal(l.Payload, &p); err != nil {
			continue
		}
		if p.Critical.Image.DockerManifestDigest != d.DigestStr() {
			// Signed by the key, but for another image: copied over.
			other = p.Critical.Image.DockerManifestDigest
			continue
		}
		n++
	}
	switch {
	case n > 0:
		return n, nil
	case other != "":
		return 0, fmt.Errorf("%w: the signature by this key at %s signs %s, not %s: it was copied from another image", ErrOtherImage, tag.TagStr(), other, d.DigestStr())
	}
	return 0, fmt.Errorf("%w: %s has %d signature(s), none verifies with this key: it was signed with another key, or the signature was altered; check --key is the public half of the release's signing key", ErrWrongKey, d, len(layers))
}

// ours are the predicate types a go-image release attests. Any of them
// present must verify; other tools' attestations are not judged here.
var ours = map[string]bool{
	attest.SLSAProvenanceType: true, attest.GateReportType: true,
	attest.SPDXType: true, attest.CycloneDXType: true,
}

func attestations(ctx context.Context, res *Result, v signature.Verifier, o Options) error {
	d := res.Digest
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return err
	}
	tag, err := sign.AttestationTag(d)
	if err != nil {
		return err
	}
	layers, err := sign.ReadLayers(ctx, tag, o.Registry)
	if errors.Is(err, sign.ErrNotFound) {
		return fmt.Errorf("%w: %s is signed but has no attestations (nothing at %s): no provenance and no gate report to check; was it released by go-image with --sign-key?", ErrMissing, d, tag.TagStr())
	}
	if err != nil {
		return err
	}
	byType := map[string][]attest.Statement{}
	for i, l := range layers {
		claimed := sign.PredicateType(l)
		if !ours[claimed] {
			continue
		}
		st, err := sign.VerifyAttestation(v, l)
		if err != nil {
			return fmt.Errorf("%w: attestation %d of %s (predicate type %s) fails its signature check with this key: it was altered after signing, or signed with another key (%v)", ErrTampered, i+1, tag.TagStr(), claimed, err)
		}
		if !st.About(h) {
			return fmt.Errorf("%w: the %s attestation at %s is about %s, not %s: it was copied from another image", ErrOtherImage, st.PredicateType, tag.TagStr(), strings.Join(st.Digests(), ", "), d.DigestStr())
		}
		byType[st.PredicateType] = append(byType[st.PredicateType], st)
	}
	if err := provenance(res, byType[attest.SLSAProvenanceType], o.Revision); err != nil {
		return err
	}
	if err := gateReport(res, byType[attest.GateReportType]); err != nil {
		return err
	}
	if err := required(res, o.RequireGates); err != nil {
		return err
	}
	for _, t := range []string{attest.SPDXType, attest.CycloneDXType} {
		if len(byType[t]) > 0 {
			res.SBOM = t
		}
	}
	return nil
}

func provenance(res *Result, sts []attest.Statement, revision string) error {
	if len(sts) == 0 {
		return fmt.Errorf("%w: %s has no SLSA provenance (%s) signed by this key", ErrMissing, res.Digest, attest.SLSAProvenanceType)
	}
	for _, st := range sts {
		var p attest.Provenance
		if err := json.Unmarshal(st.Predicate, &p); err != nil {
			return fmt.Errorf("%w: provenance predicate: %v", ErrTampered, err)
		}
		got := p.BuildDefinition.ExternalParameters.Source.Revision
		if revision != "" && got != revision {
			if got == "" {
				got = "no revision (the release had no --revision)"
			}
			return fmt.Errorf("%w: the provenance of %s says it was built from %s, want %s", ErrRevision, res.Digest, got, revision)
		}
		res.Provenance = p
	}
	return nil
}

func gateReport(res *Result, sts []attest.Statement) error {
	if len(sts) == 0 {
		return fmt.Errorf("%w: %s has no gate report (%s) signed by this key: nothing says it passed go-image's gates", ErrMissing, res.Digest, attest.GateReportType)
	}
	for _, st := range sts {
		var g attest.GateReport
		if err := json.Unmarshal(st.Predicate, &g); err != nil {
			return fmt.Errorf("%w: gate report predicate: %v", ErrTampered, err)
		}
		if f := g.Failed(); len(f) > 0 {
			lines := make([]string, len(f))
			for i, r := range f {
				// The report quotes the image's files: one line each.
				lines[i] = safetext.Line(r.ID + ": " + r.Message)
			}
			sort.Strings(lines)
			return fmt.Errorf("%w: the signed gate report of %s has %d failed check(s):\n  %s", ErrGateFailed, res.Digest, len(f), strings.Join(lines, "\n  "))
		}
		res.Report = g
	}
	return nil
}

// ParseGates reads a --require-gates list: gate names from report.Gates,
// comma-separated; "all" is every gate.
func ParseGates(list string) ([]string, error) {
	var out []string
	for _, g := range strings.Split(list, ",") {
		switch g = strings.TrimSpace(g); {
		case g == "":
		case g == "all":
			out = append(out, report.Gates...)
		case slices.Contains(report.Gates, g):
			out = append(out, g)
		default:
			return nil, fmt.Errorf("gate %q: want a list of %s, or all", safetext.Line(g), strings.Join(report.Gates, ", "))
		}
	}
	return out, nil
}

// required checks that each gate in gates ran: not switched off
// (<gate>/off) and with at least one check that was not skipped. A check
// skipped on its own (gates.skip, smoke's checks that need a ready path)
// does not fail it; Summary lists those.
func required(res *Result, gates []string) error {
	for _, gate := range gates {
		ran, off := false, ""
		for _, r := range res.Report.Results {
			switch {
			case r.Gate != gate:
			case r.ID == gate+"/off":
				off = r.Message
			case r.Status != report.Skipped:
				ran = true
			}
		}
		if off != "" {
			return fmt.Errorf("%w: the signed gate report of %s says %s: the release's policy (go-image.yaml, or a flag) switched it off; release with the gate on, or leave %s out of --require-gates", ErrGateOff, res.Digest, safetext.Line(off), gate)
		}
		if !ran {
			return fmt.Errorf("%w: the signed gate report of %s has no %s check that ran: release with the gate on, or leave %s out of --require-gates", ErrGateOff, res.Digest, gate, gate)
		}
	}
	return nil
}

// Summary is the verification's outcome for a terminal.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "verified %s\n", r.Digest)
	fmt.Fprintf(&b, "  signature:   %d by the key", r.Signatures)
	if len(r.Platforms) > 0 {
		fmt.Fprintf(&b, ", and each of the %d platform images", len(r.Platforms))
	}
	b.WriteString("\n")
	p := r.Provenance
	src := p.BuildDefinition.ExternalParameters.Source
	// Signed is not the same as safe to print: the statements quote the
	// source's URL and the image's report, each escaped to one line.
	line := safetext.Line
	fmt.Fprintf(&b, "  provenance:  built by %s", line(p.RunDetails.Builder.ID))
	if src.URI != "" || src.Revision != "" {
		fmt.Fprintf(&b, " from %s %s", line(src.URI), line(src.Revision))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  gate report: %s\n", line(r.Report.Summary))
	// A skip passes the report: say which, so a reader sees what it
	// did not check (--require-gates refuses them).
	for _, res := range r.Report.Results {
		if res.Status == report.Skipped {
			fmt.Fprintf(&b, "  skipped:     %s: %s\n", line(res.ID), line(res.Message))
		}
	}
	if r.SBOM != "" {
		fmt.Fprintf(&b, "  sbom:        %s\n", line(r.SBOM))
	}
	return b.String()
}
