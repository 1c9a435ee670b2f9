package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"dagger/go-image/internal/assemble"
	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/timing"
)

// Target is one image of a build of several: a binary's recipe for one
// platform (Options.Platform) and its base.
type Target struct {
	Options recipe.Options
	// BaseRef is the alpine base image reference; ignored for scratch.
	BaseRef string
}

// ManyRequest builds several images from one source, sharing one module
// cache and one build cache: the binaries of a monorepo, each for each
// platform of a release.
type ManyRequest struct {
	Source  string
	Targets []Target
	// Jobs bounds the go builds and assemblies run at once (default: the
	// core count); each go build runs its own packages in parallel too.
	Jobs   int
	Remote []remote.Option
	Log    io.Writer
	// Cache, when set, serves the go commands' build cache (--build-cache):
	// one server for every batch.
	Cache GoCache
}

// BuildMany compiles every target in as few go builds as their recipes
// allow (recipe.Batches) and assembles each image, in Targets order. Each
// image is the one Build gives for the same target alone (tested). The
// targets' main packages must have been checked by mains.Expand: no
// pre-flight runs per package here.
func BuildMany(ctx context.Context, r ManyRequest) ([]v1.Image, error) {
	src, err := compile.Source(r.Source)
	if err != nil {
		return nil, err
	}
	gomod, err := compile.ReadGoMod(src)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", r.Source, err)
	}
	modulePath, err := compile.ModulePathOf(gomod)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", r.Source, err)
	}
	log := r.Log
	if log == nil {
		log = io.Discard
	}
	opts := make([]recipe.Options, len(r.Targets))
	for i, t := range r.Targets {
		if opts[i], err = t.Options.ForModule(gomod, false); err != nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp("", "go-image-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	jobs := r.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	batches := recipe.Batches(opts, modulePath, tmp)
	env, stop, err := serve(ctx, r.Cache)
	if err != nil {
		return nil, err
	}
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for _, b := range batches {
		g.Go(func() error {
			if err := os.MkdirAll(b.Dir, 0o700); err != nil {
				return err
			}
			defer timing.Start(ctx, "compile: go build "+mainsOf(b)+" for "+b.Options[0].Platform)()
			start := time.Now()
			fmt.Fprintf(log, "go-image: compile %s for %s\n", mainsOf(b), b.Options[0].Platform)
			if err := compile.BuildBatch(gctx, src, b, env...); err != nil {
				return err
			}
			fmt.Fprintf(log, "go-image: compiled %s in %s\n", mainsOf(b), time.Since(start).Round(time.Millisecond))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Where each target's binary is: its batch's directory and file.
	files := map[string]string{}
	for _, b := range batches {
		for i, o := range b.Options {
			files[o.Platform+"\x00"+o.Name] = filepath.Join(b.Dir, b.Files[i])
		}
	}
	bases := baseCache{ctx: ctx, remote: r.Remote, got: map[string]*baseOnce{}}
	imgs := make([]v1.Image, len(opts))
	g, _ = errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, o := range opts {
		g.Go(func() error {
			data, err := os.ReadFile(files[o.Platform+"\x00"+o.Name])
			if err != nil {
				return fmt.Errorf("compiled %s: %w", o.Main, err)
			}
			base, err := bases.get(o, r.Targets[i].BaseRef)
			if err != nil {
				return err
			}
			img, err := assemble.Image(base, o, data)
			if err != nil {
				return fmt.Errorf("assemble %s on %s: %w", o.Name, o.Base, err)
			}
			imgs[i] = img
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return imgs, nil
}

func mainsOf(b recipe.Batch) string {
	m := make([]string, len(b.Options))
	for i, o := range b.Options {
		m[i] = o.Main
	}
	return strings.Join(m, " ")
}

// baseCache pulls each base once per platform, for every binary on it.
type baseCache struct {
	ctx    context.Context
	remote []remote.Option
	mu     sync.Mutex
	got    map[string]*baseOnce
}

type baseOnce struct {
	once sync.Once
	base assemble.Base
	err  error
}

func (c *baseCache) get(o recipe.Options, ref string) (assemble.Base, error) {
	key := string(o.Base) + "\x00" + ref + "\x00" + o.Platform
	c.mu.Lock()
	e := c.got[key]
	if e == nil {
		e = &baseOnce{}
		c.got[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() {
		p, _ := recipe.ParsePlatform(o.Platform)
		e.base, e.err = Base(c.ctx, o.Base, ref, p, c.remote...)
	})
	return e.base, e.err
}
