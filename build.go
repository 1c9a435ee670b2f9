package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/config"
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/engine"
	"dagger/go-image/internal/plan"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/sbom"
	"dagger/go-image/internal/srcfile"
	"dagger/go-image/internal/volumes"
)

// Binary compiles the service: a static, stripped binary built with
// CGO_ENABLED=0 go build -trimpath -ldflags="-s -w …" in the builder. A
// library package, a missing main package or cgo is refused with the cause
// before compiling. One main package only: see tarballs for several.
func (m *GoImage) Binary(ctx context.Context) (*dagger.File, error) {
	c, err := m.start(ctx)
	if err != nil {
		return nil, err
	}
	b, err := c.one("binary")
	if err != nil {
		return nil, err
	}
	return b.Executor.Binary(ctx, b.platform)
}

// Build returns the final image as a container: the binary alone on scratch
// (or alpine), root-owned and 0555, a CA bundle, passwd and group entries
// for 65532, USER 65532:65532, an exec-form entrypoint and OCI labels. Chain
// it: build as-service up --ports 8080:8080, build publish --address …
// (which skips the gates: use release). Its export is not reproducible,
// because Dagger's exporter writes its own creation times; tarball is. One
// main package only: see tarballs for several.
// +cache="session"
func (m *GoImage) Build(ctx context.Context) (*dagger.Container, error) {
	b, built, err := m.image(ctx, "build")
	if err != nil {
		return nil, err
	}
	return b.Container(built)
}

// Tarball returns the final image as an image tarball (an OCI image layout
// plus docker's manifest.json, as `docker save` writes since Docker 25),
// byte for byte what `go-image build --output` writes and what release
// pushes: the same inputs give the same digest on every machine. One main
// package only: see tarballs for several.
// +cache="session"
func (m *GoImage) Tarball(ctx context.Context) (*dagger.File, error) {
	_, built, err := m.image(ctx, "tarball")
	if err != nil {
		return nil, err
	}
	return built.Tarball, nil
}

// Tarballs returns the image of every binary the main packages give, as
// NAME.tar in one directory (tarballs export --path images/), the files
// `go-image build --main … --output images/` writes: one call builds a
// monorepo's services, sharing one module and one build cache.
// +cache="session"
func (m *GoImage) Tarballs(ctx context.Context) (*dagger.Directory, error) {
	c, err := m.start(ctx)
	if err != nil {
		return nil, err
	}
	built, err := c.images(ctx)
	if err != nil {
		return nil, err
	}
	dir := dag.Directory()
	for i, b := range c.bins {
		dir = dir.WithFile(b.Name+".tar", built[i].Tarball)
	}
	return dir, nil
}

// Sbom returns the image's SBOM (JSON), read from the service binary's Go
// build information: the main module, every linked module with its go.sum
// hash, and the Go standard library. One main package only.
func (m *GoImage) Sbom(
	ctx context.Context,
	// spdx (SPDX 2.3) or cyclonedx (CycloneDX 1.5) (default: spdx).
	// +optional
	format string,
) (*dagger.File, error) {
	f, err := sbom.ParseFormat(format)
	if err != nil {
		return nil, err
	}
	c, b, err := m.image(ctx, "sbom")
	if err != nil {
		return nil, err
	}
	bi, err := sbom.BuildInfo(b)
	if err != nil {
		return nil, err
	}
	o := c.Options
	doc, err := f.Generate(sbom.Subject{Name: o.Name, Version: o.Version, Platforms: []string{o.Platform}, Created: o.Created()}, bi)
	if err != nil {
		return nil, err
	}
	return dag.Directory().WithNewFile(f.FileName(), string(doc)).File(f.FileName()), nil
}

// call is one function call: the binaries the main packages give, each
// with its executor and effective choices, and the choices of the whole
// call (the source's, for lint).
type call struct {
	bins []*binary
	// top are the choices without any binary's section of the policy
	// file: lint judges the source, which every binary shares.
	top   choices.Choices
	files engine.Files
	cfg   *config.File
	jobs  int

	// built are the images of each platform, by binary name, built once
	// for every binary that targets it (release).
	mu    sync.Mutex
	built map[string]map[string]*engine.Built
}

// binary is one binary of the call.
type binary struct {
	*engine.Executor
	plan.Binary
	// platform is the first target platform, the single-image functions'.
	platform recipe.Platform
}

// start binds the module's state into choices, validates every one of
// them before anything builds, reads the policy file (the config argument,
// else the source's go-image.yaml), lists the main packages with the
// builder and sets up one Dagger executor per binary. platforms, when
// given (release's), replace the constructor's platform.
func (m *GoImage) start(ctx context.Context, platforms ...string) (*call, error) {
	flags, files, err := m.choices(ctx, platforms...)
	if err != nil {
		return nil, err
	}
	if err := flags.Validate(); err != nil {
		return nil, err
	}
	if err := volumes.CheckNamespace(m.CacheNamespace); err != nil {
		return nil, err
	}
	builderRunner, err := m.builderRunner(ctx)
	if err != nil {
		return nil, err
	}
	if ok, err := m.Source.Exists(ctx, "go.mod"); err != nil || !ok {
		return nil, fmt.Errorf("source: no go.mod: pass the module root of the service (the directory with go.mod) as --source")
	}
	gomod, err := engine.ReadBounded(ctx, m.Source.File("go.mod"), "go.mod", srcfile.MaxGoMod)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	modulePath, err := compile.ModulePathOf(gomod)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	cfg, err := m.policy(ctx)
	if err != nil {
		return nil, err
	}
	in := plan.Inputs{Config: cfg, Flags: layer(flags)}
	top, _ := in.Top()
	// One remote build cache for every binary: they share one build.
	var bc *engine.BuildCache
	if m.BuildCacheRepository != "" {
		bc = &engine.BuildCache{Repository: m.BuildCacheRepository, Key: m.BuildCacheKey,
			Username: m.BuildCacheUsername, Password: m.BuildCachePassword, Insecure: m.BuildCacheInsecure}
		if err := bc.Check(ctx); err != nil {
			return nil, err
		}
		if bc.Prog, err = engine.CacheProg(dag); err != nil {
			return nil, err
		}
	}
	executor := func(c choices.Choices) (*engine.Executor, error) {
		o, err := c.Recipe.Options()
		if err != nil {
			return nil, err
		}
		// An injected builder brings its own Go; the golang image is go.mod's.
		if o, err = o.ForModule(gomod, m.Builder == nil); err != nil {
			return nil, err
		}
		return &engine.Executor{
			Dag: dag, Source: m.Source, Options: o, GoMod: gomod,
			Builder: m.Builder, BuilderRunner: builderRunner, BaseImage: c.Recipe.BaseImageRef(), CacheNamespace: m.CacheNamespace, UpxCompress: c.Recipe.Compress(),
			BuildCache: bc,
		}, nil
	}
	// go list runs in the builder of the call's own choices.
	lister := top
	lister.Recipe.Main, lister.Recipe.Name = nil, nil
	le, err := executor(lister)
	if err != nil {
		return nil, err
	}
	bins, err := in.Expand(ctx, modulePath, le.List)
	if err != nil {
		return nil, err
	}
	c := &call{top: top, files: files, cfg: cfg, jobs: m.Jobs}
	for _, b := range bins {
		e, err := executor(b.Choices)
		if err != nil {
			return nil, err
		}
		p, err := recipe.ParsePlatform(e.Options.Platform)
		if err != nil {
			return nil, err
		}
		c.bins = append(c.bins, &binary{Executor: e, Binary: b, platform: p})
	}
	return c, nil
}

// policy reads the policy file: the config argument, else go-image.yaml
// at the source root when there is one (nil when neither). A file larger
// than config.MaxSize is refused before it is read.
func (m *GoImage) policy(ctx context.Context) (*config.File, error) {
	f, name := m.Config, ""
	if f == nil {
		ok, err := m.Source.Exists(ctx, config.FileName)
		if err != nil || !ok {
			return nil, err
		}
		f, name = m.Source.File(config.FileName), config.FileName
	} else {
		var err error
		if name, err = f.Name(ctx); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	size, err := f.Size(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if size > config.MaxSize {
		return nil, &config.Error{Path: name, Err: fmt.Errorf("%d bytes, at most %d: a policy file is a few kB; is this the right file?", size, config.MaxSize)}
	}
	data, err := f.Contents(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return config.Parse(name, []byte(data))
}

// builderRunner names the injected builder's cache volumes after its ID
// (volumes.Builder): its code is the caller's, and shares no volume with
// go-image's golang builder nor with another caller's builder.
func (m *GoImage) builderRunner(ctx context.Context) (string, error) {
	var id dagger.ContainerID
	if m.Builder != nil {
		var err error
		if id, err = m.Builder.ID(ctx); err != nil {
			return "", fmt.Errorf("builder: %w", err)
		}
	}
	return volumes.Builder(m.Builder != nil, string(id))
}

// one is the call's only binary, for a function that returns one image.
func (c *call) one(fn string) (*binary, error) {
	if len(c.bins) != 1 {
		return nil, fmt.Errorf("%s returns one image, but the main packages give %d binaries (%s): call tarballs for all of them, or name one main package with --main", fn, len(c.bins), strings.Join(c.names(), ", "))
	}
	return c.bins[0], nil
}

func (c *call) names() []string {
	out := make([]string, len(c.bins))
	for i, b := range c.bins {
		out[i] = b.Name
	}
	return out
}

// images builds every binary's image for its first platform.
func (c *call) images(ctx context.Context) ([]*engine.Built, error) {
	// One go build per platform and recipe, as the CLI's.
	byPlatform := map[string][]int{}
	var order []string
	for i, b := range c.bins {
		p := b.platform.String()
		if _, ok := byPlatform[p]; !ok {
			order = append(order, p)
		}
		byPlatform[p] = append(byPlatform[p], i)
	}
	out := make([]*engine.Built, len(c.bins))
	for _, p := range order {
		idx := byPlatform[p]
		execs := make([]*engine.Executor, len(idx))
		for j, i := range idx {
			execs[j] = c.bins[i].Executor
		}
		built, err := c.imagesOf(ctx, execs, c.bins[idx[0]].platform)
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			out[i] = built[j]
		}
	}
	return out, nil
}

// imagesOf builds the images of execs for p: one binary's with its own
// pre-flight, several in as few go builds as their recipes allow
// (engine.Images; mains.Expand has checked their packages).
func (c *call) imagesOf(ctx context.Context, execs []*engine.Executor, p recipe.Platform) ([]*engine.Built, error) {
	if len(execs) == 1 {
		b, err := execs[0].Image(ctx, p)
		return []*engine.Built{b}, err
	}
	return engine.Images(ctx, execs, p, c.jobs)
}

// platformImages are the images for p of every binary that targets it,
// by name, built at once on first use (release builds each platform's
// images together, as the CLI's release does).
func (c *call) platformImages(ctx context.Context, p recipe.Platform) (map[string]*engine.Built, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if got, ok := c.built[p.String()]; ok {
		return got, nil
	}
	var execs []*engine.Executor
	for _, b := range c.bins {
		ps, err := b.Choices.Recipe.PlatformList()
		if err != nil {
			return nil, err
		}
		if slices.Contains(ps, p) {
			execs = append(execs, b.Executor)
		}
	}
	built, err := c.imagesOf(ctx, execs, p)
	if err != nil {
		return nil, err
	}
	got := map[string]*engine.Built{}
	for i, e := range execs {
		got[e.Options.Name] = built[i]
	}
	if c.built == nil {
		c.built = map[string]map[string]*engine.Built{}
	}
	c.built[p.String()] = got
	return got, nil
}

// image builds the image of the call's only binary.
func (m *GoImage) image(ctx context.Context, fn string) (*binary, *engine.Built, error) {
	c, err := m.start(ctx)
	if err != nil {
		return nil, nil, err
	}
	b, err := c.one(fn)
	if err != nil {
		return nil, nil, err
	}
	built, err := b.Image(ctx, b.platform)
	return b, built, err
}
