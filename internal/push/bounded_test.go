package push

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/limits"
)

// endlessRegistry answers every GET with a body without end (or with a
// Content-Length of declared, when set), counting what the client reads.
type endlessRegistry struct {
	declared int64
	read     atomic.Int64
}

func (e *endlessRegistry) RoundTrip(req *http.Request) (*http.Response, error) {
	h := http.Header{}
	if req.URL.Path == "/v2/" {
		return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
	}
	h.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	h.Set("Docker-Content-Digest", "sha256:"+strings.Repeat("0", 64))
	resp := &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(&endless{n: &e.read}), ContentLength: -1, Request: req}
	if e.declared > 0 {
		resp.ContentLength = e.declared
	}
	return resp, nil
}

type endless struct{ n *atomic.Int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	e.n.Add(int64(len(p)))
	return len(p), nil
}

// TestBoundedAnswers: a registry that answers without end is cut at the
// limit, with the named error, having been read no further than the
// limit; one that declares too much is refused unread.
func TestBoundedAnswers(t *testing.T) {
	const limit = 64 << 10
	ctx := limits.With(context.Background(), limits.Limits{Manifest: limit, RegistryAnswer: limit, Signature: limit})
	ref, err := name.ParseReference("registry.test/acme/api:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		declared int64
		get      func(opts []remote.Option) error
		want     error
		maxRead  int64
	}{
		{"manifest without end", 0, func(opts []remote.Option) error { _, err := remote.Get(ref, opts...); return err }, limits.ErrManifest, limit + 1},
		{"manifest declared too large", 1 << 30, func(opts []remote.Option) error { _, err := remote.Get(ref, opts...); return err }, limits.ErrManifest, 0},
		{"blob without end", 0, func(opts []remote.Option) error {
			l, err := remote.Layer(ref.Context().Digest("sha256:"+strings.Repeat("0", 64)), opts...)
			if err != nil {
				return err
			}
			rc, err := l.Compressed()
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(io.Discard, rc)
			return err
		}, limits.ErrRegistryAnswer, limit + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := &endlessRegistry{declared: tt.declared}
			o := opts()
			o.Transport = reg
			ropts, err := o.Remote(ctx, ref.Context())
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.get(ropts); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if n := reg.read.Load(); n > tt.maxRead {
				t.Errorf("read %d bytes of the answer, want at most %d", n, tt.maxRead)
			}
		})
	}
}
