// Package limits holds every bound go-image puts on what it reads from an
// image, an image tarball or a registry, in one place, with the error that
// says which bound was hit. The defaults are far above what real images
// need (go-image gates minimal service images) and far below what would
// hurt the machine: each exists because issue 14 showed a small hostile
// input that used gigabytes or looped forever without it.
//
// The limits travel in the context (With, From) rather than in every
// reader's signature: gates, the image reader and the registry code all
// take a context already, and a test can tighten one bound for one call.
package limits

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Limits are the bounds; a zero field means its default.
type Limits struct {
	// Manifest bounds a manifest or an index, in bytes (index.json too).
	Manifest int64
	// Config bounds an image config, in bytes.
	Config int64
	// IndexDepth bounds how many indexes may wrap the image (Dagger and
	// BuildKit write one).
	IndexDepth int
	// IndexManifests bounds the descriptors of one index.
	IndexManifests int
	// Layers bounds the layers of one image.
	Layers int
	// Entries bounds the tar entries of all of an image's layers, plus the
	// parent directories they imply: what a reader indexes in memory.
	Entries int
	// Path bounds one entry's name or link target, in bytes (PATH_MAX).
	Path int
	// Names bounds the names and link targets of all of an image's tar
	// entries together, in bytes: what a reader indexes in memory beside
	// the entries (200,000 names of 4000 bytes held over a gigabyte).
	Names int64
	// Uncompressed bounds all of an image's layers uncompressed, in bytes:
	// a layer compresses a thousandfold at most, and decompressing is time.
	Uncompressed int64
	// Kept bounds one file a gate keeps in memory to parse (the entrypoint,
	// /etc/passwd, the CA bundle), in bytes.
	Kept int64
	// ArchiveMembers bounds the members of an image tarball.
	ArchiveMembers int
	// RegistryAnswer bounds a registry answer read into memory that is not
	// a manifest (a token, an error, a signature image's config), in bytes.
	RegistryAnswer int64
	// SignatureLayers bounds the signatures or attestations read from one
	// tag (cosign's own bound).
	SignatureLayers int
	// Signature bounds one signature or attestation payload, in bytes.
	Signature int64
	// Signatures bounds all payloads read from one tag, in bytes.
	Signatures int64
	// ToolOutput bounds a report a tool writes about an image and go-image
	// reads whole (Trivy's JSON and SARIF), in bytes: a base image decides
	// how much Trivy finds to say.
	ToolOutput int64
}

// Byte units.
const (
	KiB int64 = 1 << 10
	MiB       = 1 << 20
	GiB       = 1 << 30
)

// Default returns the default limits.
func Default() Limits {
	return Limits{
		Manifest:        4 * MiB, // containerd's, and what the distribution spec asks registries to accept
		Config:          8 * MiB,
		IndexDepth:      4,
		IndexManifests:  1024,
		Layers:          500,
		Entries:         200_000,
		Path:            4096,
		Names:           64 * MiB,
		Uncompressed:    8 * GiB,
		Kept:            256 * MiB,
		ArchiveMembers:  10_000,
		RegistryAnswer:  16 * MiB,
		SignatureLayers: 1000,
		Signature:       16 * MiB,
		Signatures:      64 * MiB,
		ToolOutput:      256 * MiB,
	}
}

// withDefaults fills l's zero fields from Default.
func (l Limits) withDefaults() Limits {
	d := Default()
	set64 := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set64(&l.Manifest, d.Manifest)
	set64(&l.Config, d.Config)
	set(&l.IndexDepth, d.IndexDepth)
	set(&l.IndexManifests, d.IndexManifests)
	set(&l.Layers, d.Layers)
	set(&l.Entries, d.Entries)
	set(&l.Path, d.Path)
	set64(&l.Names, d.Names)
	set64(&l.Uncompressed, d.Uncompressed)
	set64(&l.Kept, d.Kept)
	set(&l.ArchiveMembers, d.ArchiveMembers)
	set64(&l.RegistryAnswer, d.RegistryAnswer)
	set(&l.SignatureLayers, d.SignatureLayers)
	set64(&l.Signature, d.Signature)
	set64(&l.Signatures, d.Signatures)
	set64(&l.ToolOutput, d.ToolOutput)
	return l
}

type ctxKey struct{}

// With returns ctx carrying l (zero fields: defaults).
func With(ctx context.Context, l Limits) context.Context {
	return context.WithValue(ctx, ctxKey{}, l.withDefaults())
}

// From returns the limits ctx carries, or Default.
func From(ctx context.Context) Limits {
	if l, ok := ctx.Value(ctxKey{}).(Limits); ok {
		return l
	}
	return Default()
}

// Kind names one bound.
type Kind string

// The bounds, one per field of Limits.
const (
	Manifest        Kind = "manifest"
	Config          Kind = "config"
	IndexDepth      Kind = "index-depth"
	IndexManifests  Kind = "index-manifests"
	Layers          Kind = "layers"
	Entries         Kind = "entries"
	Path            Kind = "path"
	Names           Kind = "names"
	Uncompressed    Kind = "uncompressed"
	Kept            Kind = "kept-file"
	ArchiveMembers  Kind = "archive-members"
	RegistryAnswer  Kind = "registry-answer"
	SignatureLayers Kind = "signature-layers"
	Signature       Kind = "signature"
	Signatures      Kind = "signatures"
	ToolOutput      Kind = "tool-output"
)

// about says, per kind, what is bounded, in which unit, and the fix.
var about = map[Kind]struct {
	what, unit, fix string
}{
	Manifest:        {"a manifest or index", "bytes", "this is not an image manifest any tool writes; rebuild or re-export the image"},
	Config:          {"an image config", "bytes", "an image config holds settings and history, not data; rebuild the image"},
	IndexDepth:      {"nested indexes", "levels", "an image is wrapped in one index at most by the tools go-image reads; re-export it with `go-image build --output` or `docker save`"},
	IndexManifests:  {"the manifests of one index", "manifests", "this is not an index any tool writes"},
	Layers:          {"layers", "layers", "squash the image's layers (a go-image build adds one to its base)"},
	Entries:         {"files in the image's layers", "entries", "go-image gates minimal service images: build on scratch or a smaller base"},
	Path:            {"a file name or link target", "bytes", "no Linux path is that long (PATH_MAX is 4096); the layer is crafted"},
	Names:           {"the names of all files in the image's layers", "bytes", "real images name their files in a few megabytes at most; the layer is crafted"},
	Uncompressed:    {"the image's layers uncompressed", "bytes", "go-image gates minimal service images: build on scratch or a smaller base"},
	Kept:            {"a file a gate reads into memory", "bytes", "the entrypoint, /etc/passwd and the CA bundle of a service image are far smaller; check what the image puts there"},
	ArchiveMembers:  {"the members of an image tarball", "members", "an image tarball of one image holds its blobs and three files; pass the file written by `go-image build --output` or `docker save` of one image"},
	RegistryAnswer:  {"a registry answer", "bytes", "the registry sent more than any token, error or signature config needs; check the registry address"},
	SignatureLayers: {"the signatures or attestations at one tag", "layers", "the tag holds more than cosign writes; check who writes to the repository"},
	Signature:       {"one signature or attestation", "bytes", "a signature or attestation of a service is far smaller; check who writes to the repository"},
	Signatures:      {"the signatures or attestations at one tag", "bytes", "the tag holds more than a release writes; check who writes to the repository"},
	ToolOutput:      {"a report a tool wrote about the image", "bytes", "Trivy's report of a service image is a few megabytes; check what the base image holds"},
}

// Error is a bound exceeded. errors.Is(err, ErrEntries) (and the other
// Err values) tells which.
type Error struct {
	Kind Kind
	// What was too large: "index.json", "layer 2 (sha256:…)", "/usr/local/bin/app".
	What string
	// Limit is the bound.
	Limit int64
	// Got is what was measured, when known; 0 means more than Limit.
	Got int64
}

func (e *Error) Error() string {
	a := about[e.Kind]
	got := "more than"
	if e.Got > 0 {
		got = fmt.Sprintf("%s, over", count(e.Got, a.unit))
	}
	return fmt.Sprintf("%s: %s the %s limit on %s: %s", e.What, got, count(e.Limit, a.unit), a.what, a.fix)
}

// Is matches the sentinel of e's kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.What == "" && t.Kind == e.Kind
}

func count(n int64, unit string) string {
	if unit != "bytes" {
		return fmt.Sprintf("%d %s", n, unit)
	}
	switch {
	case n >= GiB && n%GiB == 0:
		return fmt.Sprintf("%d GiB", n/GiB)
	case n >= MiB && n%MiB == 0:
		return fmt.Sprintf("%d MiB", n/MiB)
	case n >= KiB && n%KiB == 0:
		return fmt.Sprintf("%d KiB", n/KiB)
	}
	return fmt.Sprintf("%d bytes", n)
}

// The sentinels, for errors.Is.
var (
	ErrManifest        = &Error{Kind: Manifest}
	ErrConfig          = &Error{Kind: Config}
	ErrIndexDepth      = &Error{Kind: IndexDepth}
	ErrIndexManifests  = &Error{Kind: IndexManifests}
	ErrLayers          = &Error{Kind: Layers}
	ErrEntries         = &Error{Kind: Entries}
	ErrPath            = &Error{Kind: Path}
	ErrNames           = &Error{Kind: Names}
	ErrUncompressed    = &Error{Kind: Uncompressed}
	ErrKept            = &Error{Kind: Kept}
	ErrArchiveMembers  = &Error{Kind: ArchiveMembers}
	ErrRegistryAnswer  = &Error{Kind: RegistryAnswer}
	ErrSignatureLayers = &Error{Kind: SignatureLayers}
	ErrSignature       = &Error{Kind: Signature}
	ErrSignatures      = &Error{Kind: Signatures}
	ErrToolOutput      = &Error{Kind: ToolOutput}
)

// ReadAll reads r to its end, failing with an *Error of kind k once more
// than limit bytes arrive: at most limit+1 bytes are read and held.
func ReadAll(r io.Reader, limit int64, k Kind, what string) ([]byte, error) {
	b, err := io.ReadAll(Reader(r, limit, k, what))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Reader returns r, failing with an *Error of kind k as soon as more than
// limit bytes have been read: a stream that is never held whole is still
// bounded.
func Reader(r io.Reader, limit int64, k Kind, what string) io.Reader {
	return &bounded{r: r, left: limit, limit: limit, kind: k, what: what}
}

type bounded struct {
	r           io.Reader
	left, limit int64
	kind        Kind
	what        string
}

func (b *bounded) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, &Error{Kind: b.kind, What: b.what, Limit: b.limit}
	}
	// Read one byte past the limit: exactly limit bytes is within it.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, &Error{Kind: b.kind, What: b.what, Limit: b.limit}
	}
	return n, err
}

// Check returns an *Error of kind k when n is over limit: for sizes and
// counts known before reading (a declared size, a header's length).
func Check(n, limit int64, k Kind, what string) error {
	if n > limit {
		return &Error{Kind: k, What: what, Limit: limit, Got: n}
	}
	return nil
}

// ContextReader returns r, failing with ctx's error once ctx is done: a
// long copy stops at the next read after a signal or a timeout.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return &ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// IsLimit reports whether err is a bound exceeded.
func IsLimit(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
