// Package local is the daemonless executor: it runs the recipe with the
// local Go toolchain and assembles the image in memory, for machines (and CI
// runners) without a container engine.
package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/assemble"
	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/timing"
)

// Request is one daemonless build.
type Request struct {
	Source  string
	Options recipe.Options
	// BaseRef is the alpine base image reference; ignored for scratch.
	BaseRef string
	// Remote options for pulling the base (auth, transport, insecure hosts).
	Remote []remote.Option
	// Log receives progress lines and the go command's output.
	Log io.Writer
	// Cache, when set, serves the go command's build cache (--build-cache).
	Cache GoCache
}

// GoCache serves a build cache to one go command: the environment that
// points it there (GOCACHEPROG), and stop, called once it has exited
// (internal/buildcache.Cache).
type GoCache interface {
	Serve(ctx context.Context) (env []string, stop func(), err error)
}

// serve serves c to the go commands of one build (nothing, with no
// cache); stop is always set.
func serve(ctx context.Context, c GoCache) (env []string, stop func(), err error) {
	if c == nil {
		return nil, func() {}, nil
	}
	return c.Serve(ctx)
}

// Build compiles and assembles one platform's image.
func Build(ctx context.Context, r Request) (v1.Image, error) {
	src, err := compile.Source(r.Source)
	if err != nil {
		return nil, err
	}
	o, err := Options(r.Source, r.Options)
	if err != nil {
		return nil, err
	}
	log := r.Log
	if log == nil {
		log = io.Discard
	}
	p, _ := recipe.ParsePlatform(o.Platform)
	base, err := Base(ctx, o.Base, r.BaseRef, p, r.Remote...)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "go-image-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, o.Name)
	start := time.Now()
	fmt.Fprintf(log, "go-image: compile %s for %s\n", o.Main, o.Platform)
	env, stop, err := serve(ctx, r.Cache)
	if err != nil {
		return nil, err
	}
	defer stop()
	if err := compile.Build(ctx, src, o, bin, env...); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "go-image: compiled %s (%d bytes) in %s\n", o.Name, len(data), time.Since(start).Round(time.Millisecond))
	defer timing.Start(ctx, "assemble")()
	img, err := assemble.Image(base, o, data)
	if err != nil {
		return nil, fmt.Errorf("assemble on %s: %w", o.Base, err)
	}
	return img, nil
}

// Options returns the recipe as Build runs it for the module in source:
// the binary name defaulted from go.mod, every other default filled in
// (recipe.Options.ForModule; the local toolchain compiles, so go.mod does
// not pick a Go version).
func Options(source string, o recipe.Options) (recipe.Options, error) {
	src, err := compile.Source(source)
	if err != nil {
		return o, err
	}
	gomod, err := compile.ReadGoMod(src)
	if err != nil {
		return o, fmt.Errorf("source %s: %w", source, err)
	}
	return o.ForModule(gomod, false)
}

// Base returns the base for the platform: nothing for scratch, or ref for
// alpine, resolved to a digest once and pulled by that digest, so every
// platform of a release is built on the same base and the image records
// which (assemble.Base).
func Base(ctx context.Context, b recipe.Base, ref string, p recipe.Platform, opts ...remote.Option) (assemble.Base, error) {
	switch b {
	case recipe.Scratch, "":
		if ref != "" {
			return assemble.Base{}, fmt.Errorf("base image %q given with base %s: use --base alpine to build on it", ref, recipe.Scratch)
		}
		return assemble.Base{}, nil
	case recipe.Alpine:
		if ref == "" {
			ref = recipe.DefaultAlpineImage
		}
		baseName, err := recipe.BaseName(ref)
		if err != nil {
			return assemble.Base{}, err
		}
		r, err := name.ParseReference(baseName)
		if err != nil {
			return assemble.Base{}, fmt.Errorf("base image %q: %w", ref, err)
		}
		// Every answer is bounded (push.PullTransport); an option of the
		// caller's that sets another transport drops that bound.
		opts = append([]remote.Option{
			remote.WithContext(ctx),
			remote.WithAuthFromKeychain(authn.DefaultKeychain),
			remote.WithTransport(push.PullTransport(ctx, remote.DefaultTransport)),
		}, opts...)
		d := recipe.BaseDigest(ref)
		if d == "" {
			desc, err := remote.Get(r, opts...)
			if err != nil {
				return assemble.Base{}, fmt.Errorf("pull base image %s: %w (is the registry reachable? set --base-image to a mirror)", r, err)
			}
			d = desc.Digest.String()
		}
		digest, err := v1.NewHash(d)
		if err != nil {
			return assemble.Base{}, fmt.Errorf("base image %q: digest: %w", ref, err)
		}
		pinned := r.Context().Digest(d)
		img, err := push.PullImage(ctx, pinned, v1.Platform{OS: p.OS, Architecture: p.Arch, Variant: p.Variant}, opts...)
		if err != nil {
			return assemble.Base{}, fmt.Errorf("pull base image %s for %s: %w", pinned, p, err)
		}
		return assemble.Base{Image: img, Name: baseName, Digest: digest}, nil
	}
	return assemble.Base{}, fmt.Errorf("base %q: unknown base image; use %q or %q", b, recipe.Scratch, recipe.Alpine)
}
