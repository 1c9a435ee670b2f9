// Package sign signs a pushed image and its attestations the way cosign
// does, with sigstore's own libraries, so that the real `cosign verify` and
// `cosign verify-attestation` accept them: a simple-signing payload signed
// with the key and stored as a layer of the image's `sha256-<hex>.sig` tag,
// and in-toto statements in DSSE envelopes stored as layers of its
// `sha256-<hex>.att` tag. Nothing is uploaded to a transparency log.
package sign

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// CosignVersion is the cosign release the tests verify go-image's
// signatures with: the one ci/install-tools.sh builds.
const CosignVersion = "v2.6.1"

// The PEM types of cosign's private keys: `cosign generate-key-pair` writes
// the first, cosign releases before 2.0 the second. Both are a PKCS #8 key
// encrypted with scrypt and NaCl secretbox.
var cosignKeyTypes = []string{"ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"}

// ErrNotCosignKey means the key file is not a cosign private key.
var ErrNotCosignKey = errors.New("not a cosign private key")

// ErrWrongPassword means the key did not decrypt with the password given.
var ErrWrongPassword = errors.New("wrong password")

// Key is a decrypted cosign private key. It never leaves the process:
// nothing prints it, and errors name the key's file, never its bytes or
// its password.
type Key struct {
	sv  signature.SignerVerifier
	pub []byte
}

// LoadKey decrypts a cosign private key (PEM) with its password. A key in
// another format and a wrong password are refused with the fix, so that a
// release finds a bad key before it builds, not after it pushed.
func LoadKey(pemBytes, password []byte) (*Key, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block: want the cosign.key that `cosign generate-key-pair` writes (-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----)", ErrNotCosignKey)
	}
	if !isCosignKey(block.Type) {
		hint := "convert it with `cosign import-key-pair --key FILE`"
		if strings.Contains(block.Type, "PUBLIC KEY") {
			hint = "this is the public key: sign with cosign.key, verify with cosign.pub"
		}
		return nil, fmt.Errorf("%w: PEM block %q, want %q: %s", ErrNotCosignKey, block.Type, cosignKeyTypes[0], hint)
	}
	// cryptoutils decrypts cosign's scrypt + secretbox envelope, as
	// `cosign sign` does. An empty password is valid: cosign allows keys
	// generated with one.
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(pemBytes, cryptoutils.StaticPasswordFunc(nonNil(password)))
	if err != nil {
		if strings.Contains(err.Error(), "decryption failed") {
			return nil, fmt.Errorf("%w: the key does not decrypt with it: check the password variable, or regenerate the key pair", ErrWrongPassword)
		}
		return nil, fmt.Errorf("%w: damaged cosign key: %v", ErrNotCosignKey, err)
	}
	// LoadDefaultSignerVerifier picks the algorithm cosign picks for the
	// key type (ECDSA P-256 with SHA-256 for generate-key-pair's keys).
	sv, err := signature.LoadDefaultSignerVerifier(priv)
	if err != nil {
		return nil, fmt.Errorf("%w: unsupported key type %T: %v", ErrNotCosignKey, priv, err)
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, err
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, err
	}
	return &Key{sv: sv, pub: pubPEM}, nil
}

func isCosignKey(t string) bool {
	for _, c := range cosignKeyTypes {
		if t == c {
			return true
		}
	}
	return false
}

// nonNil keeps an empty password distinct from "no password", which
// cryptoutils would take as "do not decrypt".
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// PublicKeyPEM is the public half, as cosign.pub holds it.
func (k *Key) PublicKeyPEM() []byte { return bytes.Clone(k.pub) }

// Verifier checks signatures made with the key.
func (k *Key) Verifier() signature.Verifier { return k.sv }

// String never shows key material.
func (k *Key) String() string { return "cosign key (private half not shown)" }

// LoadPublicKey parses a PEM public key, cosign.pub, into a verifier with
// the algorithm cosign uses for it.
func LoadPublicKey(pemBytes []byte) (signature.Verifier, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block: want the cosign.pub that `cosign generate-key-pair` writes (-----BEGIN PUBLIC KEY-----)")
	}
	if block.Type != "PUBLIC KEY" {
		hint := ""
		if isCosignKey(block.Type) || strings.Contains(block.Type, "PRIVATE") {
			hint = ": this is a private key; verify with the public key, cosign.pub"
		}
		return nil, fmt.Errorf("PEM block %q, want \"PUBLIC KEY\"%s", block.Type, hint)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return nil, fmt.Errorf("public key of type %T: %w", pub, err)
	}
	return v, nil
}
