package push

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/limits"
)

// PullTransport bounds what a registry answers to a pull (the base image):
// a manifest or index to limits.Manifest, and every other answer read
// into memory (a token, an error body) to limits.RegistryAnswer. A
// blob's own successful answer is left to its reader, which checks it
// against the size and digest that name it while it streams (a layer may
// be gigabytes); CheckPulled bounds the one blob read whole, the config.
// A blob served through redirects (to a CDN) is still a blob: the answer
// is judged by the request the pull made, not by the hop's address.
func PullTransport(ctx context.Context, rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return pullTransport{rt: rt, lim: limits.From(ctx)}
}

type pullTransport struct {
	rt  http.RoundTripper
	lim limits.Limits
}

func (p pullTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.rt.RoundTrip(req)
	if err != nil || resp.Body == nil || req.Method == http.MethodHead {
		return resp, err
	}
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	if first.Method == http.MethodGet && strings.Contains(first.URL.Path, "/blobs/") && resp.StatusCode/100 == 2 {
		return resp, nil
	}
	limit, kind := p.lim.RegistryAnswer, limits.RegistryAnswer
	if strings.Contains(first.URL.Path, "/manifests/") && resp.StatusCode/100 == 2 {
		limit, kind = p.lim.Manifest, limits.Manifest
	}
	return bound(req, resp, limit, kind)
}

// CheckPulled checks an image a registry served against ctx's limits
// before anything reads its config: go-containerregistry reads the config
// whole, as long as its manifest declares, so a declared size of
// gigabytes would be gigabytes of memory before the digest check fails.
// The config is then read, at most its declared size, and checked.
func CheckPulled(ctx context.Context, img v1.Image, what string) error {
	lim := limits.From(ctx)
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("%s: read manifest: %w", what, err)
	}
	if err := limits.Check(m.Config.Size, lim.Config, limits.Config, what+": config "+m.Config.Digest.String()); err != nil {
		return err
	}
	if len(m.Layers) > lim.Layers {
		return &limits.Error{Kind: limits.Layers, What: what, Limit: int64(lim.Layers), Got: int64(len(m.Layers))}
	}
	if _, err := img.RawConfigFile(); err != nil {
		return fmt.Errorf("%s: read config: %w", what, err)
	}
	return nil
}

// PullImage pulls ref's image for platform: ref names an image, or an
// index whose first child for the platform is one, through at most
// limits.IndexDepth nested indexes of at most limits.IndexManifests
// children each (go-containerregistry follows nested indexes without
// end, one request each). The image is then checked as CheckPulled does.
// opts should carry PullTransport.
func PullImage(ctx context.Context, ref name.Digest, platform v1.Platform, opts ...remote.Option) (v1.Image, error) {
	lim := limits.From(ctx)
	what := ref.String()
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, err
	}
	for depth := 0; desc.MediaType.IsIndex(); depth++ {
		if depth >= lim.IndexDepth {
			return nil, &limits.Error{Kind: limits.IndexDepth, What: what, Limit: int64(lim.IndexDepth)}
		}
		im, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if len(im.Manifests) > lim.IndexManifests {
			return nil, &limits.Error{Kind: limits.IndexManifests, What: what, Limit: int64(lim.IndexManifests), Got: int64(len(im.Manifests))}
		}
		var child *v1.Descriptor
		for i, d := range im.Manifests {
			if d.Platform != nil && d.Platform.Satisfies(platform) {
				child = &im.Manifests[i]
				break
			}
		}
		if child == nil {
			return nil, fmt.Errorf("%s has no image for %s: pick a base image built for it", what, platform)
		}
		what = fmt.Sprintf("%s's %s child %s", what, platform, child.Digest)
		if desc, err = remote.Get(ref.Context().Digest(child.Digest.String()), opts...); err != nil {
			return nil, err
		}
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := CheckPulled(ctx, img, what); err != nil {
		return nil, err
	}
	return img, nil
}
