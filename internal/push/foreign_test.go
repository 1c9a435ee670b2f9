package push

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestPushRefusesForeignLayers: a base image may carry a layer that is
// "non-distributable" or names URLs. go-containerregistry's push skips
// such a layer, so the released image names a blob its registry never
// got, and every node that pulls it fetches the layer from the URLs the
// base's author chose (containerd tries them first, for any layer).
// The gates read the layer; the push must carry what they read, or stop.
func TestPushRefusesForeignLayers(t *testing.T) {
	layer, err := random.Layer(512, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		add  mutate.Addendum
	}{
		{"non-distributable media type", mutate.Addendum{Layer: layer, MediaType: types.OCIRestrictedLayer}},
		{"docker foreign layer", mutate.Addendum{Layer: layer, MediaType: types.DockerForeignLayer}},
		{"URLs", mutate.Addendum{Layer: layer, URLs: []string{"http://203.0.113.7/layer"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img, err := mutate.Append(empty.Image, tt.add)
			if err != nil {
				t.Fatal(err)
			}
			host := serve(t, newRegistry())
			idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
			for what, a := range map[string]Artifact{"image": img, "index": idx} {
				_, err = Push(context.Background(), a, []string{host + "/acme/api:1"}, opts())
				if err == nil || !strings.Contains(err.Error(), "not pushed") {
					t.Errorf("%s: err = %v, want the foreign layer refused", what, err)
				}
				if _, perr := pulled(t, host+"/acme/api:1"); perr == nil {
					t.Errorf("%s: the tag was written", what)
				}
			}
		})
	}
}
