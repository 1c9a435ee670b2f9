package main

import (
	"context"
	"fmt"
	"strings"

	"dagger/go-image/internal/compile"
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
	e, p, err := m.executor(ctx)
	if err != nil {
		return nil, err
	}
	return e.Binary(ctx, p)
}

// Build returns the final image as a container: the binary alone on scratch
// (or alpine), root-owned and 0555, a CA bundle, passwd and group entries
// for 65532, USER 65532:65532, an exec-form entrypoint and OCI labels. Chain
// it: build as-service up --ports 8080:8080, build publish --address …
// (which skips the gates: use release). Its export is not reproducible,
// because Dagger's exporter writes its own creation times; tarball is.
// +cache="session"
func (m *GoImage) Build(ctx context.Context) (*dagger.Container, error) {
	e, b, err := m.image(ctx)
	if err != nil {
		return nil, err
	}
	return e.Container(b)
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
	e, b, err := m.image(ctx)
	if err != nil {
		return nil, err
	}
	bi, err := sbom.BuildInfo(b.Image)
	if err != nil {
		return nil, err
	}
	o := e.Options
	doc, err := f.Generate(sbom.Subject{Name: o.Name, Version: o.Version, Platforms: []string{o.Platform}, Created: o.Created()}, bi)
	if err != nil {
		return nil, err
	}
	return dag.Directory().WithNewFile(f.FileName(), string(doc)).File(f.FileName()), nil
}

// executor turns the module's state into the Dagger executor of the recipe
// and the constructor's platform.
func (m *GoImage) executor(ctx context.Context) (*engine.Executor, recipe.Platform, error) {
	gomod, err := m.Source.File("go.mod").Contents(ctx)
	if err != nil {
		return nil, recipe.Platform{}, fmt.Errorf("source: no go.mod: pass the module root of the service (the directory with go.mod) as --source")
	}
	o := recipe.Options{
		Main: m.Main, Name: m.Name, GoVersion: m.GoVersion, Platform: m.Platform,
		Base: recipe.Base(m.Base), Version: m.Version, VersionVar: m.VersionVar,
		Ldflags: m.Ldflags, Tags: m.Tags, Source: m.SourceURL, Revision: m.Revision,
		SourceDateEpoch: int64(m.SourceDateEpoch),
	}
	if len(m.Labels) > 0 {
		o.Labels = map[string]string{}
		for _, kv := range m.Labels {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, recipe.Platform{}, fmt.Errorf("label %q: want key=value", kv)
			}
			o.Labels[k] = v
		}
	}
	if o.Name == "" {
		mod, err := compile.ModulePathOf([]byte(gomod))
		if err != nil {
			return nil, recipe.Platform{}, err
		}
		o.Name = recipe.DefaultName(o.Main, mod)
	}
	if o.GoVersion == "" && m.Builder == nil {
		if o.GoVersion, err = recipe.GoVersionOf([]byte(gomod)); err != nil {
			return nil, recipe.Platform{}, fmt.Errorf("source: %w", err)
		}
	}
	if o, err = o.Normalize(); err != nil {
		return nil, recipe.Platform{}, err
	}
	p, err := recipe.ParsePlatform(o.Platform)
	if err != nil {
		return nil, recipe.Platform{}, err
	}
	return &engine.Executor{
		Dag: dag, Source: m.Source, Module: dag.CurrentModule().Source(), Options: o, GoMod: []byte(gomod),
		Builder: m.Builder, BaseImage: m.BaseImage, CacheNamespace: m.CacheNamespace, UpxCompress: m.UpxCompress,
	}, p, nil
}

// image builds the constructor's platform.
func (m *GoImage) image(ctx context.Context) (*engine.Executor, engine.Built, error) {
	e, p, err := m.executor(ctx)
	if err != nil {
		return nil, engine.Built{}, err
	}
	b, err := e.Image(ctx, p)
	return e, b, err
}
