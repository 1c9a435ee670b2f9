package recipe

import (
	"bytes"
	"encoding/pem"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// CABundle returns the PEM CA bundle written to CABundlePath. It comes from
// the Mozilla NSS roots pinned by golang.org/x/crypto/x509roots/fallback in
// go.sum, not from the builder image, so a scratch image's trust store is
// reproducible and changes only when go.mod does. Roots with NSS
// distrust-after constraints are left out: a PEM file cannot carry the
// constraint, and trusting them unconstrained would be wider than NSS.
func CABundle() []byte {
	var b bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})
	}
	return b.Bytes()
}
