package main

import (
	"context"
	"fmt"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/engine"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/sbom"
)

// Binary compiles the service: a static, stripped binary built with
// CGO_ENABLED=0 go build -trimpath -ldflags="-s -w …" in the builder. A
// library package, a missing main package or cgo is refused with the cause
// before compiling.
func (m *GoImage) Binary(ctx context.Context) (*dagger.File, error) {
	c, err := m.start(ctx)
	if err != nil {
		return nil, err
	}
	return c.Binary(ctx, c.platform)
}

// Build returns the final image as a container: the binary alone on scratch
// (or alpine), root-owned and 0555, a CA bundle, passwd and group entries
// for 65532, USER 65532:65532, an exec-form entrypoint and OCI labels. Chain
// it: build as-service up --ports 8080:8080, build publish --address …
// (which skips the gates: use release). Its export is not reproducible,
// because Dagger's exporter writes its own creation times; tarball is.
// +cache="session"
func (m *GoImage) Build(ctx context.Context) (*dagger.Container, error) {
	c, b, err := m.image(ctx)
	if err != nil {
		return nil, err
	}
	return c.Container(b)
}

// Tarball returns the final image as an image tarball (an OCI image layout
// plus docker's manifest.json, as `docker save` writes since Docker 25),
// byte for byte what `go-image build --output` writes and what release
// pushes: the same inputs give the same digest on every machine.
// +cache="session"
func (m *GoImage) Tarball(ctx context.Context) (*dagger.File, error) {
	_, b, err := m.image(ctx)
	if err != nil {
		return nil, err
	}
	return b.Tarball, nil
}

// Sbom returns the image's SBOM (JSON), read from the service binary's Go
// build information: the main module, every linked module with its go.sum
// hash, and the Go standard library.
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
	c, b, err := m.image(ctx)
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

// call is one function call: its choices, validated, and the executor
// that runs them.
type call struct {
	*engine.Executor
	choices choices.Choices
	files   engine.Files
	// platform is the first target platform, the single-image functions'.
	platform recipe.Platform
}

// start binds the module's state into choices, validates every one of
// them before anything builds, reads the source's go.mod for the recipe's
// name and Go version, and sets up the Dagger executor. platforms, when
// given (release's), replace the constructor's platform.
func (m *GoImage) start(ctx context.Context, platforms ...string) (*call, error) {
	c, files, err := m.choices(ctx, platforms...)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	gomod, err := m.Source.File("go.mod").Contents(ctx)
	if err != nil {
		return nil, fmt.Errorf("source: no go.mod: pass the module root of the service (the directory with go.mod) as --source")
	}
	o, err := c.Recipe.Options()
	if err != nil {
		return nil, err
	}
	// An injected builder brings its own Go; the golang image is go.mod's.
	if o, err = o.ForModule([]byte(gomod), m.Builder == nil); err != nil {
		return nil, err
	}
	p, err := recipe.ParsePlatform(o.Platform)
	if err != nil {
		return nil, err
	}
	e := &engine.Executor{
		Dag: dag, Source: m.Source, Options: o, GoMod: []byte(gomod),
		Builder: m.Builder, BaseImage: c.Recipe.BaseImageRef(), CacheNamespace: m.CacheNamespace, UpxCompress: c.Recipe.Compress(),
	}
	if m.BuildCacheRepository != "" {
		bc := &engine.BuildCache{Repository: m.BuildCacheRepository, Key: m.BuildCacheKey,
			Username: m.BuildCacheUsername, Password: m.BuildCachePassword, Insecure: m.BuildCacheInsecure}
		if err := bc.Check(ctx); err != nil {
			return nil, err
		}
		if bc.Prog, err = engine.CacheProg(dag); err != nil {
			return nil, err
		}
		e.BuildCache = bc
	}
	return &call{Executor: e, choices: c, files: files, platform: p}, nil
}

// image builds the first platform's image.
func (m *GoImage) image(ctx context.Context) (*call, *engine.Built, error) {
	c, err := m.start(ctx)
	if err != nil {
		return nil, nil, err
	}
	b, err := c.Image(ctx, c.platform)
	return c, b, err
}
