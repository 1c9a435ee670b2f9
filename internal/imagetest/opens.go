package imagetest

import (
	"io"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// CountOpens returns img with the same layers and config, each layer
// counting how often its contents are opened (Compressed or
// Uncompressed) in the returned counter: for the tests of what reads an
// image how often.
func CountOpens(t testing.TB, img v1.Image) (v1.Image, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := empty.Image
	for _, l := range ls {
		if out, err = mutate.AppendLayers(out, counted{l, &n}); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if out, err = mutate.Config(out, cf.Config); err != nil {
		t.Fatal(err)
	}
	return out, &n
}

// counted is a layer that counts the openings of its contents.
type counted struct {
	v1.Layer
	opens *atomic.Int32
}

func (c counted) Compressed() (io.ReadCloser, error) {
	c.opens.Add(1)
	return c.Layer.Compressed()
}

func (c counted) Uncompressed() (io.ReadCloser, error) {
	c.opens.Add(1)
	return c.Layer.Uncompressed()
}
