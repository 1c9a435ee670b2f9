package sign_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/imagetest"
	"dagger/go-image/internal/limits"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/sign"
	"dagger/go-image/internal/sign/signtest"
)

// TestReadLayersBounds: what a registry (or anyone with push access to
// the repository) stores at a signature tag cannot make a verifier read
// without end: too many layers, one too large (refused before it is
// fetched) or too much in all are the named errors.
func TestReadLayersBounds(t *testing.T) {
	host, blobGets := imagetest.CountingRegistry(t, "/blobs/")
	d := signtest.RandomImage(t, host+"/acme/api")
	tag, err := sign.SignatureTag(d)
	if err != nil {
		t.Fatal(err)
	}
	layer := func(n int) sign.Layer {
		return sign.Layer{MediaType: sign.SimpleSigningMediaType, Payload: []byte(strings.Repeat("x", n))}
	}
	tests := []struct {
		name   string
		layers []sign.Layer
		lim    limits.Limits
		want   error
		// fetched is how many blobs (config included) may be read.
		fetched int64
	}{
		{"more layers than the limit", []sign.Layer{layer(1), layer(2), layer(3)}, limits.Limits{SignatureLayers: 2}, limits.ErrSignatureLayers, 1},
		{"one payload over the limit", []sign.Layer{layer(10), layer(4096)}, limits.Limits{Signature: 1024}, limits.ErrSignature, 2},
		{"all payloads over the limit", []sign.Layer{layer(1000), layer(1000), layer(1000)}, limits.Limits{Signatures: 2500}, limits.ErrSignatures, 3},
		{"within the limits", []sign.Layer{layer(1000), layer(1000)}, limits.Limits{Signatures: 2500}, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signtest.Rewrite(t, tag, tt.layers)
			blobGets.Store(0)
			ctx := limits.With(context.Background(), tt.lim)
			got, err := sign.ReadLayers(ctx, tag, push.Options{})
			if !errors.Is(err, tt.want) || tt.want == nil && len(got) != len(tt.layers) {
				t.Fatalf("err = %v (%d layers), want %v", err, len(got), tt.want)
			}
			if n := blobGets.Load(); n > tt.fetched {
				t.Errorf("%d blobs fetched, want at most %d: a refused payload must not be read", n, tt.fetched)
			}
		})
	}
}

// TestReadLayersManifestBound: a signature manifest larger than a
// manifest may be is refused while it is read.
func TestReadLayersManifestBound(t *testing.T) {
	host := signtest.Registry(t)
	d := signtest.RandomImage(t, host+"/acme/api")
	tag, _ := sign.SignatureTag(d)
	var ls []sign.Layer
	for i := 0; i < 20; i++ {
		ls = append(ls, sign.Layer{MediaType: sign.SimpleSigningMediaType, Payload: []byte{byte(i)},
			Annotations: map[string]string{"pad": strings.Repeat("p", 200)}})
	}
	signtest.Rewrite(t, tag, ls)
	ctx := limits.With(context.Background(), limits.Limits{Manifest: 1024})
	if _, err := sign.ReadLayers(ctx, tag, push.Options{}); !errors.Is(err, limits.ErrManifest) {
		t.Fatalf("err = %v, want ErrManifest", err)
	}
}

// TestReadLayersRefusesAnIndex: cosign writes an image manifest at a
// signature tag. A registry that serves an index there, nesting indexes
// one in another, made go-containerregistry follow every level, one
// request each, without end; an index is refused after one request.
func TestReadLayersRefusesAnIndex(t *testing.T) {
	host, manifestGets := imagetest.CountingRegistry(t, "/manifests/")
	d := signtest.RandomImage(t, host+"/acme/api")
	tag, err := sign.SignatureTag(d)
	if err != nil {
		t.Fatal(err)
	}
	// 50 indexes, each the only (linux/amd64) child of the next.
	var idx v1.ImageIndex = empty.Index
	img, err := random.Image(16, 1)
	if err != nil {
		t.Fatal(err)
	}
	idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	for range 49 {
		idx = mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: idx, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	manifestGets.Store(0)
	_, err = sign.ReadLayers(context.Background(), tag, push.Options{})
	if err == nil || !strings.Contains(err.Error(), "holds an index") {
		t.Errorf("err = %v, want the index refused", err)
	}
	if n := manifestGets.Load(); n > 1 {
		t.Errorf("%d manifests read, want 1", n)
	}
}
