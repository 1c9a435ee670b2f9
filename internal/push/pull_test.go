package push_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/imagetest"
	"dagger/go-image/internal/limits"
	"dagger/go-image/internal/push"
)

// pullRegistry is a registry serving one image, whose answers each case
// can replace: the base image of a build comes from whoever runs it.
type pullRegistry struct {
	manifest, config, layer []byte
	// declaredConfig, when set, is the config size the manifest declares.
	declaredConfig int64
	// endless, when set, names an answer that never ends: "manifest",
	// "config", "401", "token".
	endless string
}

func sum(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }

// stream writes zeros until the client stops reading, at most 256 MiB.
func stream(w http.ResponseWriter) {
	buf := make([]byte, 1<<20)
	for i := 0; i < 256; i++ {
		if _, err := w.Write(buf); err != nil {
			return
		}
	}
}

func (p *pullRegistry) serve(t *testing.T) (*httptest.Server, string) {
	p.config = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + sum(p.layer) + `"]}}`)
	cfgSize := int64(len(p.config))
	if p.declaredConfig > 0 {
		cfgSize = p.declaredConfig
	}
	p.manifest = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":%d,"digest":"%s"},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":%d,"digest":"%s"}]}`,
		cfgSize, sum(p.config), len(p.layer), sum(p.layer)))
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			if p.endless == "token" {
				stream(w)
			}
			io.WriteString(w, `{"token":"t"}`)
		case p.endless == "token" && r.Header.Get("Authorization") == "":
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="test"`, srv.URL))
			w.WriteHeader(http.StatusUnauthorized)
		case p.endless == "401":
			w.WriteHeader(http.StatusUnauthorized)
			stream(w)
		case r.URL.Path == "/v2/":
		case strings.Contains(r.URL.Path, "/manifests/"):
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			if p.endless == "manifest" {
				stream(w)
				return
			}
			w.Write(p.manifest)
		case strings.HasSuffix(r.URL.Path, "/blobs/"+sum(p.config)):
			if p.endless == "config" {
				w.Write(p.config)
				stream(w)
				return
			}
			w.Write(p.config)
		case strings.HasSuffix(r.URL.Path, "/blobs/"+sum(p.layer)):
			// Layers come from a CDN, as on most registries.
			http.Redirect(w, r, "/cdn/layer", http.StatusTemporaryRedirect)
		case r.URL.Path == "/cdn/layer":
			w.Write(p.layer)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, strings.TrimPrefix(srv.URL, "http://") + "/base@" + sum(p.manifest)
}

var errMismatch = errors.New("a digest or size mismatch")

// TestPullBounds: a base image's registry is not trusted: every answer of
// a pull is bounded, and a config declared gigabytes long is refused
// before it is read, while a layer larger than every bound, served
// through a redirect, still reads.
func TestPullBounds(t *testing.T) {
	lim := limits.Limits{Manifest: 16 << 10, Config: 16 << 10, RegistryAnswer: 64 << 10}
	layer := make([]byte, 512<<10) // 8 × RegistryAnswer
	tests := []struct {
		name string
		reg  pullRegistry
		want error
	}{
		{"a valid image, its layer through a redirect", pullRegistry{}, nil},
		{"a config declared 3 GiB", pullRegistry{declaredConfig: 3 << 30}, limits.ErrConfig},
		{"an endless config declared within the bound", pullRegistry{declaredConfig: 8 << 10, endless: "config"}, errMismatch},
		{"an endless manifest", pullRegistry{endless: "manifest"}, limits.ErrManifest},
		{"an endless 401 body", pullRegistry{endless: "401"}, limits.ErrRegistryAnswer},
		{"an endless token answer", pullRegistry{endless: "token"}, limits.ErrRegistryAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.reg.layer = layer
			_, ref := tt.reg.serve(t)
			ctx := limits.With(context.Background(), lim)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r, err := name.NewDigest(ref)
			if err != nil {
				t.Fatal(err)
			}
			img, err := push.PullImage(ctx, r, amd64, remote.WithContext(ctx), remote.WithTransport(push.PullTransport(ctx, nil)))
			if err == nil {
				var l []byte
				ls, _ := img.Layers()
				rc, lerr := ls[0].Compressed()
				if lerr == nil {
					l, lerr = io.ReadAll(rc)
					rc.Close()
				}
				if err = lerr; err == nil && len(l) != len(layer) {
					t.Errorf("layer: %d bytes, want %d", len(l), len(layer))
				}
			}
			runtime.ReadMemStats(&after)
			switch {
			case tt.want == errMismatch:
				// go-containerregistry's own check, at the declared size.
				if err == nil || !strings.Contains(err.Error(), "after reading 8192 bytes") {
					t.Errorf("err = %v, want the config's mismatch at its declared size", err)
				}
			case tt.want == nil && err != nil:
				t.Errorf("err = %v, want the image read", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
				t.Errorf("the pull allocated %d MiB", grew>>20)
			}
			t.Log(err)
		})
	}
}

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

// TestPullNestedIndexes: a base image is an image or an index of images;
// go-containerregistry followed indexes nested in indexes without end,
// one request each. PullImage follows them to the depth limit, picking the
// platform's child, and stops there with the named error.
func TestPullNestedIndexes(t *testing.T) {
	host, gets := imagetest.CountingRegistry(t, "/manifests/")
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	arm, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	nest := func(levels int) v1.ImageIndex {
		idx := mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
			mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &amd64}})
		for range levels - 1 {
			idx = mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: idx, Descriptor: v1.Descriptor{Platform: &amd64}})
		}
		return idx
	}
	for _, tt := range []struct {
		name   string
		levels int
		want   error
	}{
		{"an index of images", 1, nil},
		{"four nested indexes (the limit)", 4, nil},
		{"50 nested indexes", 50, limits.ErrIndexDepth},
	} {
		t.Run(tt.name, func(t *testing.T) {
			idx := nest(tt.levels)
			d, _ := idx.Digest()
			ref, err := name.NewDigest(host + "/base@" + d.String())
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.WriteIndex(ref, idx); err != nil {
				t.Fatal(err)
			}
			gets.Store(0)
			ctx := context.Background()
			got, err := push.PullImage(ctx, ref, amd64, remote.WithTransport(push.PullTransport(ctx, nil)))
			if !errors.Is(err, tt.want) || tt.want == nil && err != nil {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil {
				if gd, _ := got.Digest(); gd != want {
					t.Errorf("pulled %s, want the linux/amd64 image %s", gd, want)
				}
			}
			if n := gets.Load(); n > int64(limits.Default().IndexDepth)+1 {
				t.Errorf("%d manifests read, want at most the depth limit's worth", n)
			}
		})
	}
}
