package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/local"
	"dagger/go-image/internal/policy"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/sbom"
	"dagger/go-image/internal/size"
)

const service = "../../testdata/service"

var epoch = time.Unix(1700000000, 0).UTC()

// builder builds the example service with the daemonless executor, as the
// CLI does.
func builder(version string) Builder {
	return func(ctx context.Context, p recipe.Platform) (v1.Image, error) {
		return local.Build(ctx, local.Request{Source: service, Options: recipe.Options{
			Platform: p.String(), Version: version, SourceDateEpoch: epoch.Unix()}})
	}
}

// cached shares one build per platform between tests: compiling is the slow
// part, and the reproducibility test does its own fresh builds.
var (
	cacheMu sync.Mutex
	cache   = map[string]v1.Image{}
)

func cachedBuilder(ctx context.Context, p recipe.Platform) (v1.Image, error) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if img, ok := cache[p.String()]; ok {
		return img, nil
	}
	img, err := builder("1.2.3")(ctx, p)
	if err == nil {
		cache[p.String()] = img
	}
	return img, err
}

type anonymous struct{}

func (anonymous) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }

// writes counts requests that change the registry.
type writes struct {
	next http.Handler
	mu   sync.Mutex
	n    int
	// refuse is a path whose PUT the registry denies: a registry that
	// fails one push in the middle of a release.
	refuse string
}

func (w *writes) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && w.refuse != "" && r.URL.Path == w.refuse {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusForbidden)
		io.WriteString(rw, `{"errors":[{"code":"DENIED","message":"tag is immutable"}]}`)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.mu.Lock()
		w.n++
		w.mu.Unlock()
	}
	w.next.ServeHTTP(rw, r)
}

func serve(t *testing.T) (string, *writes) {
	t.Helper()
	w := &writes{next: registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true))}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), w
}

func platforms(t *testing.T, s string) []recipe.Platform {
	t.Helper()
	ps, err := recipe.ParsePlatforms(s)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// standard is the gate list the CLI and Dagger run by default.
func standard(t *testing.T) []gates.Gate {
	t.Helper()
	return policy.Standard(policy.Options{})
}

// seen is a gate that records the platform of every image it checked.
type seen struct {
	mu    sync.Mutex
	archs []string
}

func (s *seen) Name() string { return "seen" }
func (s *seen) Check(_ context.Context, img v1.Image) ([]report.Result, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.archs = append(s.archs, cf.Architecture)
	s.mu.Unlock()
	return []report.Result{{Gate: "seen", ID: "seen/platform", Status: report.Pass, Message: cf.Architecture}}, nil
}

// sourceSeen is a gates.SourceGate that counts its runs.
type sourceSeen struct{ runs int }

func (s *sourceSeen) Name() string { return "source" }
func (s *sourceSeen) SourceOnly()  {}
func (s *sourceSeen) Check(context.Context, v1.Image) ([]report.Result, error) {
	s.runs++
	return []report.Result{{Gate: "source", ID: "source/checked", Status: report.Pass, Message: "source judged"}}, nil
}

func request(t *testing.T, addrs []string, ps string, gs ...gates.Gate) Request {
	return Request{
		Platforms: platforms(t, ps), Build: cachedBuilder, Gates: append(standard(t), gs...),
		Addresses: addrs, Push: push.Options{Keychain: anonymous{}},
		Version: "1.2.3", Created: epoch,
	}
}

func TestReleaseSinglePlatform(t *testing.T) {
	host, _ := serve(t)
	r := request(t, []string{host + "/acme/service:1.2.3", host + "/acme/service:latest"}, "linux/amd64")
	r.AttachSBOM = true
	res, err := Run(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Count(report.Pass) == 0 || len(res.Report.Failed()) != 0 {
		t.Errorf("report: %s", res.Report.Summary())
	}
	want, _ := res.Images[0].Digest()
	if res.Digest != want || res.Pushed.Ref() != host+"/acme/service@"+want.String() {
		t.Errorf("pushed %s (%s), want the platform image %s", res.Pushed.Ref(), res.Digest, want)
	}
	for _, tag := range []string{"1.2.3", "latest"} {
		ref, _ := name.ParseReference(host + "/acme/service:" + tag)
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := img.Digest(); d != want {
			t.Errorf("%s pulls %s, want %s", tag, d, want)
		}
	}

	// SPDX by default, as ko.
	var doc sbom.SPDXDocument
	if err := json.Unmarshal(res.SBOM, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || len(doc.Packages) < 2 || doc.Packages[1].Name != "example.com/service" || doc.Packages[1].VersionInfo != "1.2.3" {
		t.Errorf("SBOM = %.300s", res.SBOM)
	}
	subject, err := name.NewDigest(res.Pushed.Ref())
	if err != nil {
		t.Fatal(err)
	}
	refs, err := remote.Referrers(subject)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := refs.IndexManifest()
	if len(im.Manifests) != 1 || res.SBOMRef != host+"/acme/service@"+im.Manifests[0].Digest.String() {
		t.Fatalf("referrers of the image = %+v, SBOM ref %s", im.Manifests, res.SBOMRef)
	}
	art, err := remote.Image(mustRef(t, res.SBOMRef))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := art.Manifest(); m.ArtifactType != "application/spdx+json" {
		t.Errorf("SBOM referrer artifactType %q, want SPDX's", m.ArtifactType)
	}
	if len(res.Signatures) != 0 || len(res.Statements) != 0 {
		t.Errorf("unsigned release reports signatures %v", res.Signatures)
	}
}

// failing is a gate that always fails, standing in for any real failure.
type failing struct{}

func (failing) Name() string { return "harden" }
func (failing) Check(context.Context, v1.Image) ([]report.Result, error) {
	return []report.Result{{Gate: "harden", ID: "harden/user-nonroot", Status: report.Fail, Message: "runs as root"}}, nil
}

// crashing is a gate that panics on a crafted image, as the upx gate did on
// a huge e_phoff.
type crashing struct{}

func (crashing) Name() string { return "upx" }
func (crashing) Check(context.Context, v1.Image) ([]report.Result, error) {
	var phdrs []byte
	return nil, fmt.Errorf("unreachable %d", phdrs[1<<20])
}

func TestFailedGatePushesNothing(t *testing.T) {
	tests := []struct {
		name      string
		platforms string
		gate      gates.Gate
		wantMsg   string
	}{
		{"failing check", "linux/amd64", failing{}, "harden/user-nonroot: runs as root"},
		{"one platform of two", "linux/amd64,linux/arm64", failing{}, "harden/user-nonroot: linux/arm64: runs as root"},
		{"size budget", "linux/amd64", size.Gate{Max: 1000}, "size/compressed"},
		{"a gate that panics blocks, with the panic", "linux/amd64", crashing{}, "upx/panic: the upx gate crashed (panic: runtime error: index out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, w := serve(t)
			r := request(t, []string{host + "/acme/service:1.2.3"}, tt.platforms, tt.gate)
			r.AttachSBOM = true
			res, err := Run(context.Background(), r)
			var blocked *BlockedError
			if !errors.As(err, &blocked) {
				t.Fatalf("err = %v, want a BlockedError", err)
			}
			if !strings.Contains(err.Error(), "nothing pushed") || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error does not say which gate and why:\n%v", err)
			}
			if res.Pushed != nil || w.n != 0 {
				t.Errorf("%d write requests reached the registry; pushed = %+v", w.n, res.Pushed)
			}
			if _, err := remote.Head(mustRef(t, host+"/acme/service:1.2.3")); err == nil {
				t.Error("tag exists after a blocked release")
			}
			repos, err := remote.Catalog(context.Background(), mustRef(t, host+"/x:y").Context().Registry)
			if err != nil || len(repos) != 0 {
				t.Errorf("catalog = %v (%v), want empty", repos, err)
			}
		})
	}
}

func TestMultiPlatform(t *testing.T) {
	host, _ := serve(t)
	s, src := &seen{}, &sourceSeen{}
	r := request(t, []string{host + "/acme/service:1.2.3"}, "linux/amd64,linux/arm64", s, src)
	r.SBOM = true
	r.SBOMFormat = sbom.CycloneDX
	res, err := Run(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.archs, ",") != "amd64,arm64" {
		t.Errorf("gates ran on %v, want every platform's image", s.archs)
	}
	// A source gate's verdict is the same for every platform: one run, one
	// result, with no platform in its message.
	if src.runs != 1 {
		t.Errorf("source gate ran %d times, want once", src.runs)
	}
	for _, x := range res.Report.Results {
		if x.Gate == "source" && x.Message != "source judged" {
			t.Errorf("source result message %q names a platform", x.Message)
		}
		if x.Gate == "seen" && !strings.HasPrefix(x.Message, "linux/") {
			t.Errorf("image result message %q does not name its platform", x.Message)
		}
	}
	idx, err := remote.Index(mustRef(t, host+"/acme/service:1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	if d != res.Digest {
		t.Errorf("pulled index %s, release said %s", d, res.Digest)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != "application/vnd.oci.image.index.v1+json" || len(im.Manifests) != 2 {
		t.Fatalf("index %s with %d manifests", im.MediaType, len(im.Manifests))
	}
	for i, want := range []string{"amd64", "arm64"} {
		m := im.Manifests[i]
		if m.Platform == nil || m.Platform.OS != "linux" || m.Platform.Architecture != want {
			t.Errorf("manifest %d platform = %+v, want linux/%s", i, m.Platform, want)
		}
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != want {
			t.Errorf("manifest %d is a %s image", i, cf.Architecture)
		}
	}
	var doc sbom.Document
	if err := json.Unmarshal(res.SBOM, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Metadata.Properties) != 2 {
		t.Errorf("SBOM platforms = %+v", doc.Metadata.Properties)
	}
}

// TestReproducible builds from scratch twice (no shared build) and releases
// to the same address: one image digest and one SBOM artifact digest,
// single- and multi-platform. (The SBOM names the repository, so the
// address must be the same for its bytes to be.)
func TestReproducible(t *testing.T) {
	for _, ps := range []string{"linux/amd64", "linux/amd64,linux/arm64"} {
		t.Run(ps, func(t *testing.T) {
			var digests []v1.Hash
			var sboms []string
			host, _ := serve(t)
			for i := 0; i < 2; i++ {
				r := request(t, []string{host + "/acme/service:1.2.3"}, ps)
				r.Build = builder("1.2.3")
				r.AttachSBOM = true
				res, err := Run(context.Background(), r)
				if err != nil {
					t.Fatal(err)
				}
				digests = append(digests, res.Digest)
				sboms = append(sboms, strings.SplitN(res.SBOMRef, "@", 2)[1])
			}
			if digests[0] != digests[1] {
				t.Errorf("two builds, two digests: %s != %s", digests[0], digests[1])
			}
			if sboms[0] != sboms[1] {
				t.Errorf("two builds, two SBOM artifacts: %s != %s", sboms[0], sboms[1])
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	never := func(context.Context, recipe.Platform) (v1.Image, error) {
		t.Error("built despite a bad request")
		return nil, errors.New("unreachable")
	}
	good := platforms(t, "linux/amd64")
	tests := []struct {
		name    string
		r       Request
		wantErr string
	}{
		{"no gates", Request{Platforms: good, Build: never, Addresses: []string{"r.example/a:b"}}, "no gates"},
		{"no platform", Request{Build: never, Gates: standard(t), Addresses: []string{"r.example/a:b"}}, "no platform"},
		{"bad address", Request{Platforms: good, Build: never, Gates: standard(t), Addresses: []string{"not a ref"}}, "REGISTRY/REPO:TAG"},
		{"signing without a key", Request{Platforms: good, Build: never, Gates: standard(t), Addresses: []string{"r.example/a:b"}, Sign: &Signing{}}, "without a key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.r)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
