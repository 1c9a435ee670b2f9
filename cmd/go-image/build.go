package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/local"
	"dagger/go-image/internal/plan"
	"dagger/go-image/internal/preflight"
	"dagger/go-image/internal/recipe"
)

func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("build", stderr)
	var c choices.Choices
	b := newBinder(fs, &c)
	src := fs.String("source", ".", "Go module root of the service (the directory with go.mod)")
	out := fs.String("output", "", "image tarball to write (required), e.g. service.tar; with several main packages, a directory that receives NAME.tar for each binary")
	platform := fs.String("platform", recipe.DefaultPlatform, "target platform os/arch[/variant]")
	b.on(&c.Recipe.Platforms, "platform", func() error { c.Recipe.Platforms = []string{*platform}; return nil })
	tag := fs.String("tag", "", "tag recorded in the tarball, used by docker load (default NAME:VERSION or NAME:latest)")
	pf := addPlanFlags(fs)
	addRecipeFlags(b)
	cf := addBuildCacheFlags(fs)
	tf := addTimingsFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := b.apply(); err != nil {
		return err
	}
	if *out == "" {
		return usageError{fmt.Errorf("--output is required: the image tarball to write, e.g. --output service.tar")}
	}
	if err := b.validate(); err != nil {
		return err
	}
	ctx, printTimings := tf.start(ctx, stderr)
	defer printTimings()
	_, bins, err := pf.plan(ctx, *src, b)
	if err != nil {
		return err
	}
	if len(bins) > 1 {
		if *tag != "" {
			return usageError{fmt.Errorf("--tag names one image, but --main gives %d binaries (%s): each tarball is tagged NAME:VERSION", len(bins), strings.Join(plan.Names(bins), ", "))}
		}
		return buildMany(ctx, *src, *out, pf.jobs, bins, cf, stdout, stderr)
	}
	bin := bins[0]
	o, err := bin.Choices.Recipe.Options()
	if err != nil {
		return err
	}
	// Refused now, not after the compile.
	if err := preflight.Writable("--output", *out); err != nil {
		return err
	}
	cache, err := cf.open(ctx, stderr)
	if err != nil {
		return err
	}
	if cache != nil {
		defer cache.Close(ctx)
	}
	img, err := local.Build(ctx, local.Request{Source: *src, Options: o, BaseRef: bin.Choices.Recipe.BaseImageRef(), Log: stderr, Cache: goCache(cache)})
	if err != nil {
		return err
	}
	if *tag == "" {
		*tag = recipe.Options{Name: bin.Name, Version: o.Version}.Tag()
	}
	return writeImage(*out, *tag, img, stdout, stderr, "")
}

// buildMany builds every binary and writes DIR/NAME.tar for each.
func buildMany(ctx context.Context, src, dir string, jobs int, bins []plan.Binary, cf *buildCacheFlags, stdout, stderr io.Writer) error {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if !strings.HasSuffix(dir, "/") {
			return usageError{fmt.Errorf("--output %s: with %d binaries (%s), --output is a directory that receives NAME.tar for each: create it, or end it with /", dir, len(bins), strings.Join(plan.Names(bins), ", "))}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
	}
	targets := make([]local.Target, len(bins))
	for i, bin := range bins {
		o, err := bin.Choices.Recipe.Options()
		if err != nil {
			return err
		}
		if err := preflight.Writable("--output", filepath.Join(dir, bin.Name+".tar")); err != nil {
			return err
		}
		targets[i] = local.Target{Options: o, BaseRef: bin.Choices.Recipe.BaseImageRef()}
	}
	cache, err := cf.open(ctx, stderr)
	if err != nil {
		return err
	}
	if cache != nil {
		defer cache.Close(ctx)
	}
	imgs, err := local.BuildMany(ctx, local.ManyRequest{Source: src, Targets: targets, Jobs: jobs, Log: stderr, Cache: goCache(cache)})
	if err != nil {
		return err
	}
	for i, bin := range bins {
		tag := recipe.Options{Name: bin.Name, Version: targets[i].Options.Version}.Tag()
		if err := writeImage(filepath.Join(dir, bin.Name+".tar"), tag, imgs[i], stdout, stderr, bin.Name+" "); err != nil {
			return err
		}
	}
	return nil
}

// writeImage writes img as an image tarball and prints its digest (after
// prefix, the binary's name when there are several).
func writeImage(path, tag string, img v1.Image, stdout, stderr io.Writer, prefix string) error {
	if err := imagefile.Write(path, tag, img); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	st, _ := os.Stat(path)
	fmt.Fprintf(stderr, "go-image: wrote %s (%s, %d bytes)\n", path, tag, st.Size())
	fmt.Fprintln(stdout, prefix+d.String())
	return nil
}
