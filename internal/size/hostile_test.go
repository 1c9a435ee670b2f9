package size_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"dagger/go-image/internal/blob"
	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/size"
)

// lying is a layer whose source declares another size or digest than its
// blob has, and does not check: what a size gate that trusts declared
// sizes would add up.
type lying struct {
	v1.Layer
	size   int64
	digest v1.Hash
}

func (l lying) Size() (int64, error) {
	if l.size > 0 {
		return l.size, nil
	}
	return l.Layer.Size()
}

func (l lying) Digest() (v1.Hash, error) {
	if l.digest.Hex != "" {
		return l.digest, nil
	}
	return l.Layer.Digest()
}

// TestLyingSizes: issue 14's 5 MB layer declared as 1 byte fails the gate
// with its 100 kB budget, from a tarball (refused when read) and from any
// other source (refused when measured); so does a blob that is not its
// digest. A lie is a failed check, never a pass.
func TestLyingSizes(t *testing.T) {
	if _, err := imagefile.Read(hostile.LyingSize(t)); !errors.Is(err, blob.ErrSize) {
		t.Fatalf("LyingSize tarball: err = %v, want a size mismatch", err)
	}
	// A blob that is not its digest, read from a tarball, whose layers
	// check themselves: the gate relies on that check, and it holds.
	img, err := imagefile.Read(hostile.LyingDigest(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (size.Gate{}).Check(context.Background(), img); !errors.Is(err, blob.ErrDigest) {
		t.Fatalf("LyingDigest tarball: err = %v, want a digest mismatch", err)
	}
	big := hostile.Layer(hostile.Entry{Name: "data/blob", Data: []byte(strings.Repeat("x", 5_000_000))})
	for name, tt := range map[string]struct {
		l    v1.Layer
		want error
	}{
		"declared 1 byte":       {lying{Layer: big, size: 1}, blob.ErrSize},
		"declared another blob": {lying{Layer: big, digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}}, blob.ErrDigest},
	} {
		t.Run(name, func(t *testing.T) {
			img, err := mutate.AppendLayers(empty.Image, tt.l)
			if err != nil {
				t.Fatal(err)
			}
			g := size.Gate{Max: 100 * size.KB}
			if _, err := g.Check(context.Background(), img); !errors.Is(err, tt.want) {
				t.Fatalf("Check: err = %v, want %v", err, tt.want)
			}
			r := gates.Run(context.Background(), img, g)
			if len(r.Failed()) != 1 || r.Results[0].Status != report.Fail {
				t.Errorf("report = %+v, want the size gate failed", r.Results)
			}
		})
	}
}

// TestMeasuredNotDeclared: the sizes the gate reports are the ones read.
func TestMeasuredNotDeclared(t *testing.T) {
	l := hostile.Layer(hostile.File("a", 0o644, "hello"))
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	m, err := size.Measure(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := l.Compressed()
	n, _ := io.Copy(io.Discard, rc)
	if m.Layers[0].Compressed != n || m.Layers[0].Uncompressed != n {
		t.Errorf("layer measured %d/%d, its blob is %d bytes", m.Layers[0].Compressed, m.Layers[0].Uncompressed, n)
	}
}
