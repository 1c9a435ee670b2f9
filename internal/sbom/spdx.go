package sbom

import (
	"encoding/json"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// SPDXDocument is the subset of SPDX 2.3 (JSON) go-image writes.
type SPDXDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      SPDXCreationInfo   `json:"creationInfo"`
	Packages          []SPDXPackage      `json:"packages"`
	Relationships     []SPDXRelationship `json:"relationships"`
}

type SPDXCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type SPDXPackage struct {
	Name                  string            `json:"name"`
	SPDXID                string            `json:"SPDXID"`
	VersionInfo           string            `json:"versionInfo,omitempty"`
	DownloadLocation      string            `json:"downloadLocation"`
	FilesAnalyzed         bool              `json:"filesAnalyzed"`
	Checksums             []SPDXChecksum    `json:"checksums,omitempty"`
	LicenseConcluded      string            `json:"licenseConcluded"`
	LicenseDeclared       string            `json:"licenseDeclared"`
	CopyrightText         string            `json:"copyrightText"`
	ExternalRefs          []SPDXExternalRef `json:"externalRefs,omitempty"`
	PrimaryPackagePurpose string            `json:"primaryPackagePurpose,omitempty"`
	Comment               string            `json:"comment,omitempty"`
}

type SPDXChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type SPDXExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type SPDXRelationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

// noAssertion is SPDX's "not known": go-image reads modules from the
// binary, which records neither licenses nor where a module came from.
const noAssertion = "NOASSERTION"

// GenerateSPDX writes the SPDX 2.3 JSON for binaries built from one main
// module (one per platform): the image contains the main module, which
// depends on every module linked in and on the standard library, each with
// its version, package URL and go.sum hash.
func GenerateSPDX(s Subject, infos ...*debug.BuildInfo) ([]byte, error) {
	inv, err := collect(s, infos...)
	if err != nil {
		return nil, err
	}
	ids := spdxIDs{}
	image := SPDXPackage{
		Name: inv.name, SPDXID: ids.id("Image-" + inv.name), VersionInfo: s.Version,
		DownloadLocation: noAssertion, PrimaryPackagePurpose: "CONTAINER",
	}
	if len(s.Platforms) > 0 {
		image.Comment = "platforms: " + strings.Join(s.Platforms, ", ")
	}
	mainPkg := spdxPackage(inv.main, ids, "APPLICATION")
	doc := SPDXDocument{
		SPDXVersion: "SPDX-2.3",
		DataLicense: "CC0-1.0",
		SPDXID:      "SPDXRef-DOCUMENT",
		Name:        inv.name,
		CreationInfo: SPDXCreationInfo{
			Created:  s.Created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: go-image"},
		},
		Packages: []SPDXPackage{fill(image), mainPkg},
		Relationships: []SPDXRelationship{
			{SPDXElementID: "SPDXRef-DOCUMENT", RelationshipType: "DESCRIBES", RelatedSPDXElement: image.SPDXID},
			{SPDXElementID: image.SPDXID, RelationshipType: "CONTAINS", RelatedSPDXElement: mainPkg.SPDXID},
		},
	}
	for _, c := range inv.deps {
		p := spdxPackage(c, ids, "LIBRARY")
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships, SPDXRelationship{SPDXElementID: mainPkg.SPDXID, RelationshipType: "DEPENDS_ON", RelatedSPDXElement: p.SPDXID})
	}
	// The namespace must be unique per document; derived from the content,
	// not random, it keeps the same build's SBOM byte for byte the same.
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	doc.DocumentNamespace = "https://spdx.org/spdxdocs/go-image/" + sanitize(inv.name) + "-" + strings.TrimPrefix(contentUUID(body), "urn:uuid:")
	return indent(doc)
}

func spdxPackage(c Component, ids spdxIDs, purpose string) SPDXPackage {
	p := SPDXPackage{
		Name: c.Name, SPDXID: ids.id("Package-" + c.Name + "-" + c.Version), VersionInfo: c.Version,
		DownloadLocation: noAssertion, PrimaryPackagePurpose: purpose,
		ExternalRefs: []SPDXExternalRef{{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl", ReferenceLocator: c.PURL}},
	}
	for _, h := range c.Hashes {
		if h.Alg == "SHA-256" {
			p.Checksums = append(p.Checksums, SPDXChecksum{Algorithm: "SHA256", ChecksumValue: h.Content})
		}
	}
	for _, prop := range c.Properties {
		if prop.Name == "dev.go-image:replaces" {
			p.Comment = "replaces " + prop.Value
		}
	}
	return fill(p)
}

func fill(p SPDXPackage) SPDXPackage {
	p.LicenseConcluded, p.LicenseDeclared, p.CopyrightText = noAssertion, noAssertion, noAssertion
	return p
}

// spdxIDs hands out SPDXRef- identifiers, unique within a document.
type spdxIDs map[string]bool

func (s spdxIDs) id(label string) string {
	base := "SPDXRef-" + sanitize(label)
	id := base
	for n := 2; s[id]; n++ {
		id = base + "-" + strconv.Itoa(n)
	}
	s[id] = true
	return id
}

var notIDChar = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// sanitize maps s to the characters an SPDX identifier allows.
func sanitize(s string) string { return strings.Trim(notIDChar.ReplaceAllString(s, "-"), "-") }
