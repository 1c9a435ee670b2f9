// Package attest states what go-image knows about an image it released, as
// in-toto statements about the pushed digest: how it was built (SLSA
// provenance v1), what is in it (the SBOM) and which gates it passed (the
// gate report). internal/sign signs them into DSSE envelopes; this package
// only builds and reads the statements, so both executors make identical
// ones from the same inputs.
package attest

import (
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/sbom"
)

// Predicate types. The first three are the standard URIs that
// `cosign verify-attestation --type slsaprovenance1|spdxjson|cyclonedx`
// map to; GateReportType is go-image's own (see GateReport).
const (
	SLSAProvenanceType = "https://slsa.dev/provenance/v1"
	SPDXType           = sbom.SPDXPredicateType
	CycloneDXType      = sbom.CycloneDXPredicateType
	GateReportType     = "https://go-image.dev/attestation/gate-report/v1"
)

// StatementType is the in-toto statement version go-image writes.
const StatementType = "https://in-toto.io/Statement/v1"

// Subject is what a statement is about: an image by digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement is an in-toto statement: a typed predicate about subjects.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// New states predicate, of predicateType, about the image digest d stored
// in each of repos (its name in every repository it was pushed to).
func New(predicateType string, predicate any, d v1.Hash, repos ...string) (Statement, error) {
	if len(repos) == 0 {
		return Statement{}, errors.New("attest: no subject: name the repository the digest was pushed to")
	}
	if d.Algorithm != "sha256" {
		// cosign matches subjects on their sha256 digest only.
		return Statement{}, fmt.Errorf("attest: digest %s: want sha256", d)
	}
	p, err := json.Marshal(predicate)
	if err != nil {
		return Statement{}, fmt.Errorf("attest: %s predicate: %w", predicateType, err)
	}
	st := Statement{Type: StatementType, PredicateType: predicateType, Predicate: p}
	for _, r := range repos {
		st.Subject = append(st.Subject, Subject{Name: r, Digest: map[string]string{d.Algorithm: d.Hex}})
	}
	return st, nil
}

// Parse reads a statement and checks it is one.
func Parse(b []byte) (Statement, error) {
	var st Statement
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("not an in-toto statement: %w", err)
	}
	if st.PredicateType == "" || len(st.Subject) == 0 {
		return st, errors.New("not an in-toto statement: no predicateType or no subject")
	}
	return st, nil
}

// About reports whether d is one of the statement's subjects: a statement
// copied from another image's attestations names another digest.
func (s Statement) About(d v1.Hash) bool {
	for _, sub := range s.Subject {
		if sub.Digest[d.Algorithm] == d.Hex {
			return true
		}
	}
	return false
}

// Digests lists the subjects' digests, for messages.
func (s Statement) Digests() []string {
	var out []string
	for _, sub := range s.Subject {
		for alg, hex := range sub.Digest {
			out = append(out, alg+":"+hex)
		}
	}
	return out
}
