package sbom

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"dagger/go-image/internal/assemble"
	"dagger/go-image/internal/local"
	"dagger/go-image/internal/recipe"
)

// withdep is a fixture module with one real dependency; its image is built
// once with the daemonless executor, like a release would.
var withdep = sync.OnceValues(func() (v1.Image, error) {
	return local.Build(context.Background(), local.Request{Source: "testdata/withdep",
		Options: recipe.Options{SourceDateEpoch: 1700000000}})
})

func fixtureInfo(t *testing.T) *debug.BuildInfo {
	t.Helper()
	img, err := withdep()
	if err != nil {
		if strings.Contains(err.Error(), "golang.org/x/mod") {
			t.Skipf("SKIP: fixture needs golang.org/x/mod v0.43.0 in the module cache: %v", err)
		}
		t.Fatal(err)
	}
	bi, err := BuildInfo(img)
	if err != nil {
		t.Fatal(err)
	}
	return bi
}

func dep(bi *debug.BuildInfo, path string) *debug.Module {
	for _, d := range bi.Deps {
		if d.Path == path {
			return d
		}
	}
	return nil
}

func TestGenerate(t *testing.T) {
	bi := fixtureInfo(t)
	if bi.Main.Path != "example.com/withdep" {
		t.Fatalf("main module %q, want example.com/withdep", bi.Main.Path)
	}
	ggcr := dep(bi, "golang.org/x/mod")
	if ggcr == nil || ggcr.Sum == "" {
		t.Fatalf("fixture lacks golang.org/x/mod with a sum: %+v", bi.Deps)
	}
	created := time.Unix(1700000000, 0)
	out, err := Generate(Subject{Name: "registry.example/acme/api", Version: "1.2.3", Platforms: []string{"linux/amd64"}, Created: created}, bi)
	if err != nil {
		t.Fatal(err)
	}
	var doc Document
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc.BOMFormat != "CycloneDX" || doc.SpecVersion != "1.5" || doc.Version != 1 {
		t.Errorf("header = %s %s v%d", doc.BOMFormat, doc.SpecVersion, doc.Version)
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(doc.SerialNumber) {
		t.Errorf("serialNumber %q does not match the CycloneDX pattern", doc.SerialNumber)
	}
	if doc.Metadata.Timestamp != "2023-11-14T22:13:20Z" {
		t.Errorf("timestamp = %q, want the source date", doc.Metadata.Timestamp)
	}
	if c := doc.Metadata.Component; c == nil || c.Type != "container" || c.Name != "registry.example/acme/api" {
		t.Errorf("metadata.component = %+v", c)
	}
	byName := map[string]Component{}
	refs := map[string]bool{}
	for _, c := range doc.Components {
		byName[c.Name] = c
		if c.BOMRef == "" || refs[c.BOMRef] {
			t.Errorf("component %s: bom-ref %q empty or duplicated", c.Name, c.BOMRef)
		}
		refs[c.BOMRef] = true
		switch c.Type {
		case "application", "library":
		default:
			t.Errorf("component %s: type %q", c.Name, c.Type)
		}
	}
	main := byName[bi.Main.Path]
	if main.Type != "application" || doc.Components[0].Name != bi.Main.Path {
		t.Errorf("main module %s not the first application component: %+v", bi.Main.Path, doc.Components[0])
	}
	g := byName[ggcr.Path]
	if g.Version != "v0.43.0" || g.PURL != "pkg:golang/golang.org/x/mod@v0.43.0" {
		t.Errorf("golang.org/x/mod component = %+v", g)
	}
	// h1:MFuq5J6s… from go.sum, as hex.
	if len(g.Hashes) != 1 || g.Hashes[0].Alg != "SHA-256" || g.Hashes[0].Content != "305baae49eacdf95bd0f7223930c9673dbc78749c434eaede4af08a1fe287e68" {
		t.Errorf("golang.org/x/mod hashes = %+v, want the go.sum h1 as SHA-256 hex", g.Hashes)
	}
	if main.Version != "1.2.3" {
		t.Errorf("main version = %q, want the release version for a (devel) build", main.Version)
	}
	props := map[string]string{}
	for _, p := range main.Properties {
		props[p.Name] = p.Value
	}
	if props["dev.go-image:go.build.CGO_ENABLED"] != "0" || props["dev.go-image:go.build.-trimpath"] != "true" {
		t.Errorf("main build properties = %v", props)
	}
	std := byName["stdlib"]
	if std.Version != bi.GoVersion || !strings.HasPrefix(std.PURL, "pkg:golang/stdlib@") {
		t.Errorf("stdlib = %+v, want Go %s", std, bi.GoVersion)
	}
	if len(doc.Dependencies) != 2 || len(doc.Dependencies[1].DependsOn) != len(doc.Components)-1 {
		t.Errorf("dependencies = %+v", doc.Dependencies)
	}
	for _, d := range doc.Dependencies {
		for _, r := range append([]string{d.Ref}, d.DependsOn...) {
			if !refs[r] && r != doc.Metadata.Component.BOMRef {
				t.Errorf("dependency ref %q names no component", r)
			}
		}
	}

	again, err := Generate(Subject{Name: "registry.example/acme/api", Version: "1.2.3", Platforms: []string{"linux/amd64"}, Created: created}, bi)
	if err != nil || !bytes.Equal(out, again) {
		t.Error("the same build info gave different SBOM bytes")
	}
}

func TestGenerateErrors(t *testing.T) {
	if _, err := Generate(Subject{}); err == nil {
		t.Error("no build info: want an error")
	}
	a := &debug.BuildInfo{Main: debug.Module{Path: "example.com/a"}}
	b := &debug.BuildInfo{Main: debug.Module{Path: "example.com/b"}}
	if _, err := Generate(Subject{}, a, b); err == nil || !strings.Contains(err.Error(), "different modules") {
		t.Errorf("two modules: err = %v", err)
	}
}

func TestReplaceAndMerge(t *testing.T) {
	amd := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "example.com/svc", Version: "(devel)"},
		Deps: []*debug.Module{{Path: "example.com/dep", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1"}}}}
	arm := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "example.com/svc", Version: "(devel)"},
		Deps: []*debug.Module{{Path: "example.com/armonly", Version: "v0.1.0"}}}
	out, err := Generate(Subject{Version: "2.0.0"}, amd, arm)
	if err != nil {
		t.Fatal(err)
	}
	var doc Document
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range doc.Components {
		names = append(names, c.Name+"@"+c.Version)
	}
	want := "example.com/svc@2.0.0 example.com/armonly@v0.1.0 example.com/fork@v1.0.1 stdlib@go1.26.0"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("components = %s\nwant %s (replacement, not the original; union of platforms; release version for (devel))", got, want)
	}
}

// TestBuildInfoNotGo: an entrypoint that is not a Go binary is named.
func TestBuildInfoNotGo(t *testing.T) {
	fixtureInfo(t) // the image path itself is covered there; here, the failures
	o, err := recipe.Options{Name: "svc"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	notGo, err := assemble.Image(assemble.Base{}, o, []byte("#!/bin/sh\necho hi\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BuildInfo(notGo); err == nil || !strings.Contains(err.Error(), "not a Go binary") {
		t.Errorf("shell script entrypoint: err = %v", err)
	}
}

// TestReferrer pushes the SBOM as an artifact whose subject is an image and
// finds it under the image digest, on a registry with the Referrers API and
// on one without (where go-containerregistry maintains the fallback tag).
func TestReferrer(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers API %v", api), func(t *testing.T) {
			srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(api), registry.Logger(log.New(io.Discard, "", 0))))
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			base, err := assemble.Scratch(recipe.Platform{OS: "linux", Arch: "amd64"})
			if err != nil {
				t.Fatal(err)
			}
			ref, _ := name.ParseReference(host + "/acme/api:v1")
			if err := remote.Write(ref, base); err != nil {
				t.Fatal(err)
			}
			desc, err := partial.Descriptor(base)
			if err != nil {
				t.Fatal(err)
			}
			doc := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","version":1}`)
			art, err := Referrer(doc, *desc, time.Unix(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			ad, _ := art.Digest()
			if err := remote.Write(ref.Context().Digest(ad.String()), art); err != nil {
				t.Fatal(err)
			}
			idx, err := remote.Referrers(ref.Context().Digest(desc.Digest.String()))
			if err != nil {
				t.Fatal(err)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Manifests) != 1 || im.Manifests[0].Digest != ad {
				t.Fatalf("referrers = %+v, want the SBOM artifact %s", im.Manifests, ad)
			}
			// ggcr's in-process registry reports config.mediaType as the
			// artifactType in its Referrers API response; the fallback tag
			// carries the manifest's own artifactType.
			if !api && im.Manifests[0].ArtifactType != MediaType {
				t.Errorf("fallback index artifactType = %q", im.Manifests[0].ArtifactType)
			}
			back, err := remote.Image(ref.Context().Digest(ad.String()))
			if err != nil {
				t.Fatal(err)
			}
			m, err := back.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.ArtifactType != MediaType || m.Subject == nil || m.Subject.Digest != desc.Digest || m.Config.MediaType != types.OCIEmptyJSON {
				t.Errorf("artifact manifest: artifactType %q subject %+v config %+v", m.ArtifactType, m.Subject, m.Config)
			}
			layers, err := back.Layers()
			if err != nil || len(layers) != 1 {
				t.Fatalf("layers %d %v", len(layers), err)
			}
			mt, _ := layers[0].MediaType()
			rc, err := layers[0].Compressed()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, _ := io.ReadAll(rc)
			if mt != types.MediaType(MediaType) || !bytes.Equal(got, doc) {
				t.Errorf("layer %s = %q", mt, got)
			}
		})
	}
}
