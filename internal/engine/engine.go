// Package engine is the Dagger executor of go-image's recipe: it compiles the
// service in a builder container with cached modules and builds, hands the
// binary and the base's layers to the same pure-Go assembly the CLI uses
// (internal/assemble), and runs what must run in containers (Trivy, the
// image as a service, go vet with the lint analyzers). Every decision is
// made by the pure-Go packages; this package only moves files between
// containers and the module's own process.
package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/assemble"
	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/timing"
	"dagger/go-image/internal/volumes"
)

// Defaults of the images and caches the executor uses; the module's
// constructor shows them.
const (
	// DefaultBuilderImage is the builder for a Go version: the official
	// golang image on alpine, as Dagger's own Go module uses.
	DefaultBuilderImage = "golang:%s-alpine"
	// DefaultCacheNamespace prefixes the cache volumes (<ns>-gomod,
	// <ns>-gobuild, <ns>-trivy-db; see VolumeName).
	DefaultCacheNamespace = volumes.DefaultNamespace
)

// Executor builds one recipe with Dagger. The zero value is not usable; fill
// every field but the optional ones.
type Executor struct {
	Dag *dagger.Client
	// Source is the service's module root (the directory with go.mod).
	Source *dagger.Directory
	// Options is the normalized recipe, Name and GoVersion resolved.
	Options recipe.Options
	// GoMod is the source's go.mod.
	GoMod []byte
	// Builder replaces the golang:<GoVersion>-alpine builder (optional): a
	// container with the Go toolchain, for mirrors and pinned images.
	Builder *dagger.Container
	// BuilderRunner names the builder's cache volumes (volumes.Builder):
	// "" for the golang image, required with Builder.
	BuilderRunner string
	// BaseImage is the alpine base reference ("" for the default).
	BaseImage string
	// CacheNamespace prefixes the cache volumes ("" for the default).
	CacheNamespace string
	// UpxCompress packs the binary with UPX in the builder.
	UpxCompress bool
	// BuildCache, when set, shares the builder's Go build cache through
	// a registry (checked with BuildCache.Check).
	BuildCache *BuildCache

	baseOnce   sync.Once
	baseDigest string
	baseErr    error
}

// Built is one platform's image as this executor built it: the v1.Image
// the gates read, plus the very tarball it was written to, which Dagger
// imports for the containers that run it (smoke) and Trivy scans. A gate
// handed a *Built as a v1.Image reaches the tarball by type assertion (see
// AsBuilt), as go-containerregistry's partial upgrades an image.
type Built struct {
	v1.Image
	Platform recipe.Platform
	Tarball  *dagger.File
}

// AsBuilt is img as a *Built: img itself when this executor built it, or
// else img written to a tarball in the module's working directory and
// handed to the engine, so that a runner can run or scan any image.
func (e *Executor) AsBuilt(img v1.Image) (*Built, error) {
	if b, ok := img.(*Built); ok {
		return b, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	p := recipe.Platform{OS: cf.OS, Arch: cf.Architecture, Variant: cf.Variant}
	dir, err := scratchDir()
	if err != nil {
		return nil, err
	}
	tar := filepath.Join(dir, "image.tar")
	if err := imagefile.Write(tar, "go-image/image:latest", img); err != nil {
		return nil, err
	}
	return &Built{Image: img, Platform: p, Tarball: e.Dag.CurrentModule().WorkdirFile(tar)}, nil
}

// Cache returns the cache volume kind of the executor's namespace for
// the containers of runner ("" for go-image's own images): volumes.Name.
func (e *Executor) Cache(kind, runner string) *dagger.CacheVolume {
	return e.Dag.CacheVolume(volumes.Name(e.CacheNamespace, kind, runner))
}

// BuilderBase is the builder before go-image's caches and source: the
// injected container, or the golang image of the recipe's Go version.
func (e *Executor) BuilderBase() *dagger.Container {
	if e.Builder != nil {
		return e.Builder
	}
	return e.Dag.Container().From(fmt.Sprintf(DefaultBuilderImage, e.Options.GoVersion))
}

// builder is the builder with the module and build caches and the source.
// GOTOOLCHAIN=local: the builder's Go builds or the build fails; go never
// fetches another toolchain behind the user's back.
func (e *Executor) builder() *dagger.Container {
	b := e.BuilderBase().
		WithMountedCache("/go/pkg/mod", e.Cache("gomod", e.BuilderRunner)).
		WithMountedCache("/root/.cache/go-build", e.Cache("gobuild", e.BuilderRunner)).
		WithEnvVariable("GOMODCACHE", "/go/pkg/mod").
		WithEnvVariable("GOCACHE", "/root/.cache/go-build").
		WithEnvVariable("GOTOOLCHAIN", "local")
	if e.BuildCache != nil {
		b = e.BuildCache.apply(b)
	}
	return b.WithDirectory(SourceDir, e.Source).WithWorkdir(SourceDir)
}

// checkReplaces refuses a go.mod that points outside the source: the
// builder sees only --source.
func (e *Executor) checkReplaces() error {
	outside, err := compile.ReplacesOutside(e.GoMod)
	if err != nil {
		return err
	}
	if len(outside) > 0 {
		return fmt.Errorf("go.mod replaces %s: a directory outside --source, which the builder cannot see; "+
			"vendor the replaced module into the source (go mod vendor), or replace it with a published version", strings.Join(outside, ", "))
	}
	return nil
}

// Binary compiles the service for p: the recipe's go build in the builder,
// after the same pre-flight as the CLI (a library or cgo package fails with
// the cause, not with a linker error).
func (e *Executor) Binary(ctx context.Context, p recipe.Platform) (*dagger.File, error) {
	if err := e.preflight(ctx, p); err != nil {
		return nil, err
	}
	return e.binary(p), nil
}

// preflight is the CLI's pre-flight (compile.DiagnoseJSON) on the
// builder's go list.
func (e *Executor) preflight(ctx context.Context, p recipe.Platform) error {
	if err := e.checkReplaces(); err != nil {
		return err
	}
	defer timing.Start(ctx, "builder: go list (pre-flight)")()
	listed, err := e.builder().WithEnvVariable("CGO_ENABLED", "1").
		WithExec(compile.CheckArgs(e.Options.Main)).Stdout(ctx)
	if err != nil {
		if _, ok := errors.AsType[*dagger.ExecError](err); ok {
			return fmt.Errorf("inspect %s with the builder (go list): %s", e.Options.Main, execError(err))
		}
		return fmt.Errorf("inspect %s with the builder (go list): %w", e.Options.Main, err)
	}
	return compile.DiagnoseJSON(e.Options.Main, []byte(listed))
}

// binary is the compiled binary for p, not yet built (Dagger evaluates it
// when it is read).
func (e *Executor) binary(p recipe.Platform) *dagger.File {
	o := e.Options
	o.Platform = p.String()
	out := "/out/" + o.Name
	c := o.Compile(out)
	b := withEnv(e.builder(), c.Env).WithExec(c.Args)
	if e.UpxCompress {
		b = packUPX(b, out)
	}
	return b.File(out)
}

// withEnv sets each KEY=VALUE of env on ctr.
func withEnv(ctr *dagger.Container, env []string) *dagger.Container {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		ctr = ctr.WithEnvVariable(k, v)
	}
	return ctr
}

// packUPX packs the binary at path in the builder. The builder is
// golang:<v>-alpine, whose repositories carry upx. Packing hides the build
// info the SBOM and the harden gate read, so the UPX gate (deny by
// default) has the last word. The build cache's secrets stay with the
// compile (withoutBuildCache).
func packUPX(builder *dagger.Container, path string) *dagger.Container {
	return withoutBuildCache(builder).WithExec([]string{"apk", "add", "--no-cache", "upx"}).WithExec([]string{"upx", "--best", "--lzma", path})
}

// Image compiles and assembles p's image with internal/assemble, writes it
// as the tarball the CLI writes, and hands that file to Dagger. The
// pre-flight runs beside the compile, as in the CLI (compile.Build), and
// has the last word: a refused package's binary is never used.
func (e *Executor) Image(ctx context.Context, p recipe.Platform) (*Built, error) {
	dir, err := scratchDir()
	if err != nil {
		return nil, err
	}
	checked := make(chan error, 1)
	go func() { checked <- e.preflight(ctx, p) }()
	binPath := filepath.Join(dir, "binary")
	end := timing.Start(ctx, "builder: go build, export the binary")
	_, exportErr := e.binary(p).Export(ctx, binPath)
	end()
	if err := <-checked; err != nil {
		return nil, err
	}
	if exportErr != nil {
		return nil, fmt.Errorf("compile %s for %s: %w", e.Options.Main, p, exportErr)
	}
	return e.assembleFile(ctx, p, dir, binPath)
}

// Assemble assembles p's image around the compiled binary bin (one of
// Images' batch builds).
func (e *Executor) Assemble(ctx context.Context, p recipe.Platform, bin *dagger.File) (*Built, error) {
	dir, err := scratchDir()
	if err != nil {
		return nil, err
	}
	binPath := filepath.Join(dir, "binary")
	end := timing.Start(ctx, "builder: go build, export the binary")
	_, err = bin.Export(ctx, binPath)
	end()
	if err != nil {
		return nil, fmt.Errorf("compile %s for %s: %w", e.Options.Main, p, err)
	}
	return e.assembleFile(ctx, p, dir, binPath)
}

// assembleFile assembles p's image around the binary at binPath and writes
// its tarball into dir.
func (e *Executor) assembleFile(ctx context.Context, p recipe.Platform, dir, binPath string) (*Built, error) {
	data, err := os.ReadFile(binPath)
	if err != nil {
		return nil, err
	}
	base, err := e.Base(ctx, p)
	if err != nil {
		return nil, err
	}
	o := e.Options
	o.Platform = p.String()
	end := timing.Start(ctx, "assemble, write the tarball")
	defer end()
	img, err := assemble.Image(base, o, data)
	if err != nil {
		return nil, fmt.Errorf("assemble on %s: %w", o.Base, err)
	}
	tar := filepath.Join(dir, o.Name+".tar")
	if err := imagefile.Write(tar, o.Tag(), img); err != nil {
		return nil, err
	}
	// The file lives in this function's container, so a function returning
	// it (or a container imported from it) must be cached per session
	// (+cache="session"): a result kept for a later session would point at
	// a container that is gone.
	return &Built{Image: img, Platform: p, Tarball: e.Dag.CurrentModule().WorkdirFile(tar)}, nil
}

// Base is the alpine base for p (nothing for scratch): the reference is
// resolved to a digest once per executor and every platform is pulled by
// that digest, through the engine (so its registry mirrors and credentials
// apply). The engine re-exports the base with its own config bytes; the
// layer blobs are the registry's, which is all assemble takes.
func (e *Executor) Base(ctx context.Context, p recipe.Platform) (assemble.Base, error) {
	if e.Options.Base != recipe.Alpine {
		if e.BaseImage != "" {
			return assemble.Base{}, fmt.Errorf("base image %q given with base %s: use base alpine to build on it", e.BaseImage, e.Options.Base)
		}
		return assemble.Base{}, nil
	}
	ref := e.BaseImage
	if ref == "" {
		ref = recipe.DefaultAlpineImage
	}
	name, err := recipe.BaseName(ref)
	if err != nil {
		return assemble.Base{}, err
	}
	e.baseOnce.Do(func() {
		if e.baseDigest = recipe.BaseDigest(ref); e.baseDigest != "" {
			return
		}
		var pinned string
		if pinned, e.baseErr = e.Dag.Container().From(ref).ImageRef(ctx); e.baseErr != nil {
			e.baseErr = fmt.Errorf("pull base image %s: %w (is the registry reachable from the engine? pass a mirror as --base-image)", ref, e.baseErr)
			return
		}
		if e.baseDigest = recipe.BaseDigest(pinned); e.baseDigest == "" {
			e.baseErr = fmt.Errorf("pull base image %s: the engine resolved it to %q, without a digest", ref, pinned)
		}
	})
	if e.baseErr != nil {
		return assemble.Base{}, e.baseErr
	}
	digest, err := v1.NewHash(e.baseDigest)
	if err != nil {
		return assemble.Base{}, fmt.Errorf("base image %s: %w", ref, err)
	}
	repo := name // BaseName always names a tag: drop it
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		repo = name[:i]
	}
	byDigest := repo + "@" + e.baseDigest
	dir, err := scratchDir()
	if err != nil {
		return assemble.Base{}, err
	}
	tar := filepath.Join(dir, "base.tar")
	ctr := e.Dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(p.String())}).From(byDigest)
	if _, err := ctr.AsTarball().Export(ctx, tar); err != nil {
		return assemble.Base{}, fmt.Errorf("pull base image %s for %s: %w", byDigest, p, err)
	}
	img, err := imagefile.Read(tar)
	if err != nil {
		return assemble.Base{}, fmt.Errorf("base image %s for %s: %w", byDigest, p, err)
	}
	return assemble.Base{Image: img, Name: name, Digest: digest}, nil
}

// Container is b as a Dagger container, imported from its tarball: the
// same files and config the gates read. The base annotations are carried
// over, so `build publish` records the base too.
func (e *Executor) Container(b *Built) (*dagger.Container, error) {
	ctr := e.Dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(b.Platform.String())}).Import(b.Tarball)
	m, err := b.Image.Manifest()
	if err != nil {
		return nil, err
	}
	for _, k := range []string{recipe.AnnotationBaseName, recipe.AnnotationBaseDigest} {
		if v, ok := m.Annotations[k]; ok {
			ctr = ctr.WithAnnotation(k, v)
		}
	}
	return ctr, nil
}

// scratchDir is a new directory in the module's working directory, which
// CurrentModule.WorkdirFile reads files back from.
func scratchDir() (string, error) {
	dir, err := os.MkdirTemp(".", "go-image-")
	if err != nil {
		return "", fmt.Errorf("module scratch directory: %w", err)
	}
	return dir, nil
}

// Dependencies are the images the build used besides its base (which the
// images record themselves): the builder, by the digest the engine
// resolved, for the provenance. An injected builder is not an image
// reference and is left out.
func (e *Executor) Dependencies(ctx context.Context) []attest.ResourceDescriptor {
	if e.Builder != nil {
		return nil
	}
	ref, err := e.BuilderBase().ImageRef(ctx)
	if err != nil || ref == "" {
		return nil
	}
	return []attest.ResourceDescriptor{attest.ImageRef("builder", ref)}
}
