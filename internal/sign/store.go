package sign

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"dagger/go-image/internal/limits"
	"dagger/go-image/internal/push"
)

// Where and how cosign stores signatures and attestations in a registry
// (cosign's pkg/oci/static and pkg/oci/remote): one image per signed
// digest, tagged after it, each signature one layer.
const (
	// SimpleSigningMediaType is the layer type of an image signature: the
	// payload is containers/image's "simple signing" JSON naming the digest.
	SimpleSigningMediaType types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// DSSEMediaType is the layer type of an attestation: a DSSE envelope
	// around an in-toto statement.
	DSSEMediaType types.MediaType = "application/vnd.dsse.envelope.v1+json"
	// SignatureAnnotation holds the base64 signature of the layer's payload;
	// empty for attestations, whose envelope carries the signature.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// PredicateTypeAnnotation names an attestation's predicate type, so a
	// reader can pick one without decoding every envelope.
	PredicateTypeAnnotation = "predicateType"
	// InTotoPayloadType is the DSSE payload type of an in-toto statement.
	InTotoPayloadType = "application/vnd.in-toto+json"
)

// SignatureTag is where cosign looks for d's signatures: repo:sha256-<hex>.sig.
func SignatureTag(d name.Digest) (name.Tag, error) { return suffixTag(d, "sig") }

// AttestationTag is where cosign looks for d's attestations: repo:sha256-<hex>.att.
func AttestationTag(d name.Digest) (name.Tag, error) { return suffixTag(d, "att") }

func suffixTag(d name.Digest, suffix string) (name.Tag, error) {
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return name.Tag{}, err
	}
	return d.Context().Tag(fmt.Sprintf("%s-%s.%s", h.Algorithm, h.Hex, suffix)), nil
}

// Layer is one signature or attestation as stored: the payload blob and
// the annotations of its descriptor.
type Layer struct {
	MediaType   types.MediaType
	Payload     []byte
	Annotations map[string]string
}

// ErrNotFound means the tag holds no signature image: nothing was signed
// (or attested) for that digest in that repository.
var ErrNotFound = errors.New("not found")

// ReadLayers returns the signatures or attestations stored at tag, or an
// error wrapping ErrNotFound when there are none. What a registry can make
// it read is bounded by ctx's limits: the number of layers
// (limits.SignatureLayers, cosign's own bound), each payload
// (limits.Signature) and all of them together (limits.Signatures), each
// checked against its declared size before it is fetched.
func ReadLayers(ctx context.Context, tag name.Tag, o push.Options) ([]Layer, error) {
	lim := limits.From(ctx)
	opts, err := o.Remote(ctx, tag.Context())
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(tag, opts...)
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("%s: %w", tag, ErrNotFound)
		}
		return nil, o.Explain(err, "read", tag.String(), tag.Context())
	}
	if desc.MediaType.IsIndex() {
		// go-containerregistry would pick a platform's image from it,
		// following nested indexes one request each, without end.
		return nil, fmt.Errorf("%s holds an index (%s), where cosign and go-image write one image manifest of signatures or attestations: check who writes to the repository", tag, desc.MediaType)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, o.Explain(err, "read", tag.String(), tag.Context())
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, o.Explain(err, "read", tag.String(), tag.Context())
	}
	if len(m.Layers) > lim.SignatureLayers {
		return nil, &limits.Error{Kind: limits.SignatureLayers, What: tag.String(), Limit: int64(lim.SignatureLayers), Got: int64(len(m.Layers))}
	}
	left := lim.Signatures
	out := make([]Layer, 0, len(m.Layers))
	for _, d := range m.Layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		what := tag.Context().Digest(d.Digest.String()).String()
		if err := limits.Check(d.Size, lim.Signature, limits.Signature, what); err != nil {
			return nil, err
		}
		if d.Size > left {
			return nil, &limits.Error{Kind: limits.Signatures, What: tag.String(), Limit: lim.Signatures}
		}
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return nil, err
		}
		b, err := readBlob(l, min(lim.Signature, left), what)
		if err != nil {
			if limits.IsLimit(err) {
				return nil, err
			}
			return nil, o.Explain(err, "read", what, tag.Context())
		}
		left -= int64(len(b))
		out = append(out, Layer{MediaType: d.MediaType, Payload: b, Annotations: d.Annotations})
	}
	return out, nil
}

// readBlob reads one payload, at most limit bytes (go-containerregistry
// checks it against its digest and declared size while it streams).
func readBlob(l v1.Layer, limit int64, what string) ([]byte, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return limits.ReadAll(rc, limit, limits.Signature, what)
}

func notFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

// image is the signature image cosign writes for layers: an OCI manifest
// with an OCI config and one uncompressed layer per signature, its
// annotations on the layer's descriptor.
func image(layers []Layer) (v1.Image, error) {
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	adds := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		adds[i] = mutate.Addendum{Layer: static.NewLayer(l.Payload, l.MediaType), Annotations: l.Annotations}
	}
	return mutate.Append(base, adds...)
}

// writeLayers replaces the signature image at tag with one holding layers.
// The image is written by digest first, then tagged, as every push.
func writeLayers(ctx context.Context, tag name.Tag, layers []Layer, o push.Options) error {
	img, err := image(layers)
	if err != nil {
		return err
	}
	_, err = push.Push(ctx, img, []string{tag.String()}, o)
	return err
}
