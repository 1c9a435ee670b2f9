package sbom

import (
	"bytes"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdxlib"
)

// readSPDX parses and validates a document with the SPDX project's own
// Go library, not with go-image's structs.
func readSPDX(t *testing.T, b []byte) *spdx.Document {
	t.Helper()
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("tools-golang cannot read the SPDX JSON: %v\n%s", err, b)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatalf("tools-golang rejects the document: %v", err)
	}
	return doc
}

func TestGenerateSPDX(t *testing.T) {
	bi := fixtureInfo(t)
	s := Subject{Name: "registry.example/acme/api", Version: "1.2.3", Platforms: []string{"linux/amd64"}, Created: time.Unix(1700000000, 0)}
	out, err := GenerateSPDX(s, bi)
	if err != nil {
		t.Fatal(err)
	}
	doc := readSPDX(t, out)
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.DocumentName != "registry.example/acme/api" {
		t.Errorf("header: %s %s %q", doc.SPDXVersion, doc.DataLicense, doc.DocumentName)
	}
	if doc.CreationInfo == nil || doc.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("creationInfo = %+v, want the source date", doc.CreationInfo)
	}
	if !regexp.MustCompile(`^https://spdx\.org/spdxdocs/go-image/registry\.example-acme-api-[0-9a-f-]{36}$`).MatchString(doc.DocumentNamespace) {
		t.Errorf("documentNamespace %q", doc.DocumentNamespace)
	}
	described, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil || len(described) != 1 {
		t.Fatalf("described packages %v (%v), want the image", described, err)
	}
	byName := map[string]*spdx.Package{}
	for _, p := range doc.Packages {
		byName[p.PackageName] = p
	}
	image := byName["registry.example/acme/api"]
	if image == nil || image.PackageSPDXIdentifier != described[0] || image.PrimaryPackagePurpose != "CONTAINER" || image.PackageVersion != "1.2.3" {
		t.Errorf("image package %+v, described %v", image, described)
	}
	want := map[string]string{
		"example.com/withdep": "1.2.3",      // (devel) → the release version
		"golang.org/x/mod":    "v0.43.0",    // the dependency
		"stdlib":              bi.GoVersion, // the Go that compiled it
	}
	for n, v := range want {
		p := byName[n]
		if p == nil || p.PackageVersion != v {
			t.Errorf("package %s = %+v, want version %s", n, p, v)
			continue
		}
		if len(p.PackageExternalReferences) != 1 || p.PackageExternalReferences[0].RefType != "purl" || !strings.HasPrefix(p.PackageExternalReferences[0].Locator, "pkg:golang/") {
			t.Errorf("package %s external refs %+v, want its purl", n, p.PackageExternalReferences)
		}
	}
	mod := byName["golang.org/x/mod"]
	if len(mod.PackageChecksums) != 1 || string(mod.PackageChecksums[0].Algorithm) != "SHA256" ||
		mod.PackageChecksums[0].Value != "305baae49eacdf95bd0f7223930c9673dbc78749c434eaede4af08a1fe287e68" {
		t.Errorf("golang.org/x/mod checksums %+v, want the go.sum h1 as SHA256", mod.PackageChecksums)
	}
	rels := map[string]int{}
	for _, r := range doc.Relationships {
		rels[r.Relationship]++
	}
	if rels["DESCRIBES"] != 1 || rels["CONTAINS"] != 1 || rels["DEPENDS_ON"] != len(doc.Packages)-2 {
		t.Errorf("relationships %v for %d packages", rels, len(doc.Packages))
	}
	again, err := GenerateSPDX(s, bi)
	if err != nil || !bytes.Equal(out, again) {
		t.Error("the same build info gave different SPDX bytes")
	}
	s.Version = "1.2.4"
	other, _ := GenerateSPDX(s, bi)
	if readSPDX(t, other).DocumentNamespace == doc.DocumentNamespace {
		t.Error("two different documents share a namespace")
	}
}

// TestSPDXIDs: identifiers stay unique and within SPDX's alphabet for
// module paths SPDX IDs cannot hold, and a replaced module says so.
func TestSPDXIDs(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "example.com/svc", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "example.com/a_b", Version: "v1.0.0"},
			{Path: "example.com/a+b", Version: "v1.0.0"},
			{Path: "example.com/dep", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1"}},
		}}
	out, err := GenerateSPDX(Subject{}, bi)
	if err != nil {
		t.Fatal(err)
	}
	doc := readSPDX(t, out)
	seen := map[string]bool{}
	for _, p := range doc.Packages {
		id := string(p.PackageSPDXIdentifier)
		if seen[id] || !regexp.MustCompile(`^[A-Za-z0-9.-]+$`).MatchString(id) {
			t.Errorf("package %s: id %q duplicated or outside SPDX's alphabet", p.PackageName, id)
		}
		seen[id] = true
		if p.PackageName == "example.com/fork" && p.PackageComment != "replaces example.com/dep@v1.0.0" {
			t.Errorf("replacement comment %q", p.PackageComment)
		}
	}
	if doc.DocumentName != "svc" {
		t.Errorf("name without a subject = %q, want the main package's", doc.DocumentName)
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		in        string
		want      Format
		mediaType string
	}{
		{"", SPDX, "application/spdx+json"},
		{"spdx", SPDX, "application/spdx+json"},
		{"CycloneDX", CycloneDX, "application/vnd.cyclonedx+json"},
	} {
		f, err := ParseFormat(tt.in)
		if err != nil || f != tt.want || f.MediaType() != tt.mediaType {
			t.Errorf("ParseFormat(%q) = %q %s (%v)", tt.in, f, f.MediaType(), err)
		}
	}
	if _, err := ParseFormat("swid"); err == nil || !strings.Contains(err.Error(), "spdx") {
		t.Errorf("unknown format: err = %v", err)
	}
	if Format("").PredicateType() != "https://spdx.dev/Document" || CycloneDX.PredicateType() != "https://cyclonedx.org/bom" {
		t.Error("predicate types are not the ones cosign's spdxjson / cyclonedx stand for")
	}
}
