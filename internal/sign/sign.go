package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/push"
)

// Image signs d as `cosign sign --key` does, without a transparency log:
// the simple-signing payload naming d, signed with the key, added as a
// layer to repo:sha256-<hex>.sig. Signing again is a no-op: a signature
// by this key over the same payload is kept rather than duplicated.
// It returns the signature tag.
func (k *Key) Image(ctx context.Context, d name.Digest, o push.Options) (name.Tag, error) {
	tag, err := SignatureTag(d)
	if err != nil {
		return tag, err
	}
	body, err := payload.Cosign{Image: d}.MarshalJSON()
	if err != nil {
		return tag, err
	}
	existing, err := ReadLayers(ctx, tag, o)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return tag, fmt.Errorf("sign %s: read its signatures: %w", d, err)
	}
	for _, l := range existing {
		if bytes.Equal(l.Payload, body) && k.VerifyLayer(l) == nil {
			return tag, nil
		}
	}
	sig, err := k.sv.SignMessage(bytes.NewReader(body))
	if err != nil {
		return tag, fmt.Errorf("sign %s: %w", d, err)
	}
	l := Layer{MediaType: SimpleSigningMediaType, Payload: body,
		Annotations: map[string]string{SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)}}
	if err := writeLayers(ctx, tag, append(existing, l), o); err != nil {
		return tag, fmt.Errorf("sign %s: write %s: %w", d, tag, err)
	}
	return tag, nil
}

// VerifyLayer checks a signature layer's signature over its payload.
func (k *Key) VerifyLayer(l Layer) error { return VerifySignature(k.sv, l) }

// Envelope signs an in-toto statement into a DSSE envelope, as
// `cosign attest --key` does.
func (k *Key) Envelope(st attest.Statement) ([]byte, error) {
	body, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	env, err := sigdsse.WrapSigner(k.sv, InTotoPayloadType).SignMessage(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("sign %s statement: %w", st.PredicateType, err)
	}
	return env, nil
}

// Attest signs each statement and stores the envelopes as d's
// attestations (repo:sha256-<hex>.att), replacing earlier attestations of
// the same predicate types, as `cosign attest --replace` does: a release
// of the same digest again restates, it does not pile up reports. Other
// attestations (another tool's) are kept. It returns the attestation tag.
func (k *Key) Attest(ctx context.Context, d name.Digest, sts []attest.Statement, o push.Options) (name.Tag, error) {
	tag, err := AttestationTag(d)
	if err != nil {
		return tag, err
	}
	replaced := map[string]bool{}
	var fresh []Layer
	for _, st := range sts {
		env, err := k.Envelope(st)
		if err != nil {
			return tag, err
		}
		replaced[st.PredicateType] = true
		fresh = append(fresh, Layer{MediaType: DSSEMediaType, Payload: env,
			Annotations: map[string]string{SignatureAnnotation: "", PredicateTypeAnnotation: st.PredicateType}})
	}
	existing, err := ReadLayers(ctx, tag, o)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return tag, fmt.Errorf("attest %s: read its attestations: %w", d, err)
	}
	var keep []Layer
	for _, l := range existing {
		if !replaced[PredicateType(l)] {
			keep = append(keep, l)
		}
	}
	if err := writeLayers(ctx, tag, append(keep, fresh...), o); err != nil {
		return tag, fmt.Errorf("attest %s: write %s: %w", d, tag, err)
	}
	return tag, nil
}

// PredicateType is the predicate type an attestation layer states, read
// from the statement inside its envelope (the annotation is not signed,
// the statement is), or from the annotation when the envelope is unreadable.
func PredicateType(l Layer) string {
	if st, err := UnverifiedStatement(l); err == nil {
		return st.PredicateType
	}
	return l.Annotations[PredicateTypeAnnotation]
}

// UnverifiedStatement decodes the statement in an attestation layer
// without checking its signature: for choosing which layers to verify.
func UnverifiedStatement(l Layer) (attest.Statement, error) {
	var env dsse.Envelope
	if err := json.Unmarshal(l.Payload, &env); err != nil {
		return attest.Statement{}, fmt.Errorf("not a DSSE envelope: %w", err)
	}
	body, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return attest.Statement{}, fmt.Errorf("DSSE payload: %w", err)
	}
	return attest.Parse(body)
}
