package sbom

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Format is an SBOM format go-image writes.
type Format string

const (
	SPDX      Format = "spdx"
	CycloneDX Format = "cyclonedx"
	// DefaultFormat is SPDX, as ko's: the format most registries, scanners
	// and admission controllers read.
	DefaultFormat = SPDX
)

// The in-toto predicate types of the formats, the URIs that
// `cosign verify-attestation --type spdxjson|cyclonedx` stand for.
const (
	SPDXPredicateType      = "https://spdx.dev/Document"
	CycloneDXPredicateType = "https://cyclonedx.org/bom"
)

// ParseFormat parses spdx or cyclonedx; "" is DefaultFormat.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return DefaultFormat, nil
	case SPDX, CycloneDX:
		return f, nil
	}
	return "", fmt.Errorf("sbom format %q: use spdx (SPDX 2.3 JSON, the default) or cyclonedx (CycloneDX 1.5 JSON)", s)
}

// orDefault treats the zero Format as DefaultFormat.
func (f Format) orDefault() Format {
	if f == "" {
		return DefaultFormat
	}
	return f
}

// Generate writes the SBOM in format f.
func (f Format) Generate(s Subject, infos ...*debug.BuildInfo) ([]byte, error) {
	switch f.orDefault() {
	case SPDX:
		return GenerateSPDX(s, infos...)
	case CycloneDX:
		return Generate(s, infos...)
	}
	return nil, fmt.Errorf("sbom format %q: use spdx or cyclonedx", string(f))
}

// MediaType is the format's JSON media type (the artifactType of a referrer).
func (f Format) MediaType() string {
	if f.orDefault() == CycloneDX {
		return MediaType
	}
	return SPDXMediaType
}

// PredicateType is the format's in-toto predicate type.
func (f Format) PredicateType() string {
	if f.orDefault() == CycloneDX {
		return CycloneDXPredicateType
	}
	return SPDXPredicateType
}

// FileName is a conventional file name for the format's document.
func (f Format) FileName() string {
	if f.orDefault() == CycloneDX {
		return "sbom.cdx.json"
	}
	return "sbom.spdx.json"
}
