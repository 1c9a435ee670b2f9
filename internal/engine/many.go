package engine

import (
	"context"
	"fmt"
	"path"
	"runtime"

	"golang.org/x/sync/errgroup"

	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/recipe"
)

// List runs a go list command line (mains.ListArgs) in the builder, with
// CGO_ENABLED=1 as the CLI runs it (compile.List), and returns its output.
func (e *Executor) List(ctx context.Context, argv []string) ([]byte, error) {
	if err := e.checkReplaces(); err != nil {
		return nil, err
	}
	out, err := e.builder().WithEnvVariable("CGO_ENABLED", "1").WithEnvVariable("GOFLAGS", "-mod=readonly").
		WithExec(argv).Stdout(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the main packages with the builder (go list): %s", execError(err))
	}
	return []byte(out), nil
}

// Images builds the images of several binaries of one source for p: one
// executor per binary, sharing the builder, its caches and the source (the
// first's). The binaries compile in as few go builds as their recipes
// allow (recipe.Batches, as the CLI's local.BuildMany), which writes the
// same binaries as the CLI; jobs bounds the builds and assemblies at once.
// The main packages must have been checked by mains.Expand.
func Images(ctx context.Context, execs []*Executor, p recipe.Platform, jobs int) ([]*Built, error) {
	if len(execs) == 0 {
		return nil, nil
	}
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	first := execs[0]
	if err := first.checkReplaces(); err != nil {
		return nil, err
	}
	modulePath, err := compile.ModulePathOf(first.GoMod)
	if err != nil {
		return nil, err
	}
	opts := make([]recipe.Options, len(execs))
	byName := map[string]*Executor{}
	for i, e := range execs {
		opts[i] = e.Options
		opts[i].Platform = p.String()
		byName[e.Options.Name] = e
	}
	// A batch shares one builder: the binaries of each Go version (a
	// binary's section of go-image.yaml may pick another) build apart.
	var versions []string
	byVersion := map[string][]recipe.Options{}
	for _, o := range opts {
		if _, ok := byVersion[o.GoVersion]; !ok {
			versions = append(versions, o.GoVersion)
		}
		byVersion[o.GoVersion] = append(byVersion[o.GoVersion], o)
	}
	var batches []recipe.Batch
	for i, v := range versions {
		batches = append(batches, recipe.Batches(byVersion[v], modulePath, fmt.Sprintf("/out/%d", i))...)
	}
	bins := map[string]*dagger.File{}
	for _, b := range batches {
		ctr := withEnv(byName[b.Options[0].Name].builder(), b.Command.Env).WithExec(b.Command.Args)
		for i, o := range b.Options {
			f := path.Join(b.Dir, b.Files[i])
			if byName[o.Name].UpxCompress {
				ctr = packUPX(ctr, f)
			}
			bins[o.Name] = ctr.File(f)
		}
	}
	built := make([]*Built, len(execs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, e := range execs {
		g.Go(func() error {
			b, err := e.Assemble(gctx, p, bins[e.Options.Name])
			built[i] = b
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return built, nil
}
