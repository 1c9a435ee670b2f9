// Package sbom describes what is inside a go-image image as an SPDX 2.3 or
// a CycloneDX 1.5 document, read from the Go binary's own build information: the main
// module, every dependency module linked in (with its go.sum hash) and the
// Go standard library. A Go binary on scratch has no package database, so
// the binary is the only honest source — the same one `go version -m` reads.
package sbom

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/elfinfo"
	"dagger/go-image/internal/imagefs"
)

// MediaType is the CycloneDX JSON media type, used as the OCI artifactType.
const MediaType = "application/vnd.cyclonedx+json"

// SPDXMediaType is the SPDX JSON media type.
const SPDXMediaType = "application/spdx+json"

// Document is the subset of CycloneDX 1.5 go-image writes.
type Document struct {
	BOMFormat    string       `json:"bomFormat"`
	SpecVersion  string       `json:"specVersion"`
	SerialNumber string       `json:"serialNumber,omitempty"`
	Version      int          `json:"version"`
	Metadata     Metadata     `json:"metadata"`
	Components   []Component  `json:"components"`
	Dependencies []Dependency `json:"dependencies,omitempty"`
}

type Metadata struct {
	Timestamp  string     `json:"timestamp,omitempty"`
	Tools      *Tools     `json:"tools,omitempty"`
	Component  *Component `json:"component,omitempty"`
	Properties []Property `json:"properties,omitempty"`
}

type Tools struct {
	Components []Component `json:"components"`
}

type Component struct {
	Type       string     `json:"type"`
	BOMRef     string     `json:"bom-ref,omitempty"`
	Name       string     `json:"name"`
	Version    string     `json:"version,omitempty"`
	PURL       string     `json:"purl,omitempty"`
	Hashes     []Hash     `json:"hashes,omitempty"`
	Properties []Property `json:"properties,omitempty"`
}

type Hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type Dependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn,omitempty"`
}

// Subject names what the SBOM describes: the image.
type Subject struct {
	// Name is the image's repository or title, e.g. ghcr.io/acme/api.
	Name string
	// Version is the image's version label, or "" .
	Version string
	// Platforms the binaries were built for, e.g. linux/amd64.
	Platforms []string
	// Created stamps metadata.timestamp; the source date keeps the SBOM, and
	// so its referrer digest, reproducible.
	Created time.Time
}

// inventory is what either format describes: the main module, the
// modules linked in and the standard library, merged over platforms.
type inventory struct {
	main Component
	// deps are the libraries (stdlib included), sorted by package URL.
	deps []Component
	// name is the image's name: the subject's, else the main package's.
	name string
}

// collect merges the binaries' build information (one binary per
// platform); the component lists are merged, since a build tag can link a
// module on one platform only.
func collect(s Subject, infos ...*debug.BuildInfo) (inventory, error) {
	if len(infos) == 0 {
		return inventory{}, errors.New("sbom: no Go build information: the image's entrypoint must be a Go binary built with module support")
	}
	main := infos[0].Main
	for _, bi := range infos[1:] {
		if bi.Main.Path != main.Path {
			return inventory{}, fmt.Errorf("sbom: binaries of different modules (%s, %s): one SBOM describes one service", main.Path, bi.Main.Path)
		}
	}
	mainVersion := main.Version
	if (mainVersion == "" || mainVersion == "(devel)") && s.Version != "" {
		// -buildvcs=false leaves the main module "(devel)"; the release
		// version injected with -X is the better answer.
		mainVersion = s.Version
	}
	mainComp := Component{Type: "application", Name: main.Path, Version: mainVersion, PURL: purl(main.Path, mainVersion)}
	mainComp.BOMRef = mainComp.PURL
	mainComp.Properties = settings(infos[0])

	byRef := map[string]Component{}
	for _, bi := range infos {
		std := Component{Type: "library", Name: "stdlib", Version: bi.GoVersion, PURL: purl("stdlib", strings.TrimPrefix(bi.GoVersion, "go"))}
		std.BOMRef = std.PURL
		byRef[std.BOMRef] = std
		for _, d := range bi.Deps {
			c := module(d)
			byRef[c.BOMRef] = c
		}
	}
	refs := make([]string, 0, len(byRef))
	for r := range byRef {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	inv := inventory{main: mainComp, name: s.Name}
	for _, r := range refs {
		inv.deps = append(inv.deps, byRef[r])
	}
	if inv.name == "" {
		inv.name = path.Base(main.Path)
	}
	return inv, nil
}

// Generate writes the CycloneDX 1.5 JSON for binaries built from one main
// module (one per platform).
func Generate(s Subject, infos ...*debug.BuildInfo) ([]byte, error) {
	inv, err := collect(s, infos...)
	if err != nil {
		return nil, err
	}
	comps := append([]Component{inv.main}, inv.deps...)
	refs := make([]string, len(inv.deps))
	for i, c := range inv.deps {
		refs[i] = c.BOMRef
	}
	image := &Component{Type: "container", Name: inv.name, Version: s.Version, BOMRef: "image:" + inv.name}
	var props []Property
	for _, p := range s.Platforms {
		props = append(props, Property{Name: "dev.go-image:platform", Value: p})
	}
	doc := Document{
		BOMFormat:   "CycloneDX",
		SpecVersion: "1.5",
		Version:     1,
		Metadata: Metadata{
			Timestamp:  s.Created.UTC().Format(time.RFC3339),
			Tools:      &Tools{Components: []Component{{Type: "application", Name: "go-image"}}},
			Component:  image,
			Properties: props,
		},
		Components: comps,
		Dependencies: []Dependency{
			{Ref: image.BOMRef, DependsOn: []string{inv.main.BOMRef}},
			{Ref: inv.main.BOMRef, DependsOn: refs},
		},
	}
	// The serial number is derived from the content, not random, so the
	// same build gives the same SBOM bytes and the same referrer digest.
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	doc.SerialNumber = contentUUID(body)
	return indent(doc)
}

func indent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func module(d *debug.Module) Component {
	m := d
	if d.Replace != nil {
		// The replacement is what was compiled in.
		m = d.Replace
	}
	c := Component{Type: "library", Name: m.Path, Version: m.Version, PURL: purl(m.Path, m.Version)}
	c.BOMRef = c.PURL
	if h, ok := h1(m.Sum); ok {
		// go.sum's h1: is a SHA-256 (of the module's file list), so it is
		// recorded as one, as syft does; it matches `go mod verify`, not
		// the hash of a downloaded zip.
		c.Hashes = []Hash{{Alg: "SHA-256", Content: h}}
	}
	if d.Replace != nil {
		c.Properties = []Property{{Name: "dev.go-image:replaces", Value: d.Path + "@" + d.Version}}
	}
	return c
}

// settings are the build flags worth auditing: they show the binary is
// static, stripped and reproducible.
func settings(bi *debug.BuildInfo) []Property {
	keep := map[string]bool{"-trimpath": true, "-ldflags": true, "-tags": true, "CGO_ENABLED": true, "-buildmode": true, "GOOS": true}
	var ps []Property
	for _, s := range bi.Settings {
		if keep[s.Key] {
			ps = append(ps, Property{Name: "dev.go-image:go.build." + s.Key, Value: s.Value})
		}
	}
	return ps
}

func h1(sum string) (string, bool) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != sha256.Size {
		return "", false
	}
	return hex.EncodeToString(b), true
}

// purl is the package URL of a Go module: pkg:golang/<path>@<version>, each
// path segment escaped.
func purl(modPath, version string) string {
	segs := strings.Split(modPath, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	p := "pkg:golang/" + strings.Join(segs, "/")
	if version != "" {
		p += "@" + url.PathEscape(version)
	}
	return p
}

func contentUUID(b []byte) string {
	h := sha256.Sum256(b)
	h[6] = (h[6] & 0x0f) | 0x50 // version 5 layout: name-based
	h[8] = (h[8] & 0x3f) | 0x80 // RFC 4122 variant
	x := hex.EncodeToString(h[:16])
	return "urn:uuid:" + x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// maxBinary bounds how much of the entrypoint is read into memory.
const maxBinary = 1 << 30

// BuildInfo reads the Go build information of img's entrypoint binary,
// following links as the container would.
func BuildInfo(img v1.Image) (*debug.BuildInfo, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("sbom: image config: %w", err)
	}
	if len(cf.Config.Entrypoint) == 0 {
		return nil, errors.New("sbom: image has no entrypoint: cannot tell which file is the service binary")
	}
	entry := cf.Config.Entrypoint[0]
	ctx := context.Background()
	fsys, err := imagefs.Read(ctx, img, func(e imagefs.Entry) bool { return e.Path == path.Clean("/"+entry) }, maxBinary)
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	data, err := fsys.ReadFile(ctx, entry)
	if errors.Is(err, imagefs.ErrNotExist) {
		return nil, fmt.Errorf("sbom: entrypoint %s not found in the image", entry)
	}
	if err != nil {
		return nil, fmt.Errorf("sbom: read entrypoint: %w", err)
	}
	bi, err := elfinfo.GoBuildInfo(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("sbom: %s: %w: the entrypoint is not a Go binary with build information (was it packed with UPX?)", entry, err)
	}
	return bi, nil
}
