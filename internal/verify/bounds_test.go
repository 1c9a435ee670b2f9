package verify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/limits"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/verify"
)

// TestIndexBound: a signed index naming more platform images than the
// limit is refused before the verifier reads any of their signatures.
func TestIndexBound(t *testing.T) {
	host, key, v := setup(t)
	idx, err := random.Index(128, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := idx.Digest()
	d, err := name.NewDigest(host + "/acme/multi@" + h.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(d, idx); err != nil {
		t.Fatal(err)
	}
	if _, err := key.Image(context.Background(), d, push.Options{}); err != nil {
		t.Fatal(err)
	}
	ctx := limits.With(context.Background(), limits.Limits{IndexManifests: 2})
	_, err = verify.Image(ctx, d.String(), v, verify.Options{})
	if !errors.Is(err, limits.ErrIndexManifests) {
		t.Fatalf("err = %v, want ErrIndexManifests", err)
	}
	// Within the limit, the verification goes on to the children (which
	// are unsigned here).
	if _, err := verify.Image(context.Background(), d.String(), v, verify.Options{}); !errors.Is(err, verify.ErrUnsigned) {
		t.Fatalf("err = %v, want the first child unsigned", err)
	}
}
