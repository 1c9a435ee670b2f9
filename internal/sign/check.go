package sign

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"

	"dagger/go-image/internal/attest"
)

// VerifySignature checks an image signature layer: its base64 signature
// annotation over its payload, with v.
func VerifySignature(v signature.Verifier, l Layer) error {
	b64 := l.Annotations[SignatureAnnotation]
	if b64 == "" {
		return errors.New("layer has no signature annotation")
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return fmt.Errorf("signature annotation is not base64: %w", err)
	}
	return v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(l.Payload))
}

// VerifyAttestation checks an attestation layer's DSSE envelope with v and
// returns the statement it signs. Only a verified statement is returned.
func VerifyAttestation(v signature.Verifier, l Layer) (attest.Statement, error) {
	var body []byte
	w := sigdsse.WrapVerifier(v, sigdsse.WithExpectedPayloadType(InTotoPayloadType), sigdsse.WithDecodedPayload(&body))
	if err := w.VerifySignature(bytes.NewReader(l.Payload), nil); err != nil {
		return attest.Statement{}, err
	}
	return attest.Parse(body)
}
