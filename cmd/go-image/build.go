package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/local"
	"dagger/go-image/internal/preflight"
	"dagger/go-image/internal/recipe"
)

func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("build", stderr)
	var c choices.Choices
	b := newBinder(fs, &c)
	src := fs.String("source", ".", "Go module root of the service (the directory with go.mod)")
	out := fs.String("output", "", "image tarball to write (required), e.g. service.tar")
	platform := fs.String("platform", recipe.DefaultPlatform, "target platform os/arch[/variant]")
	b.on(&c.Recipe.Platforms, "platform", func() error { c.Recipe.Platforms = []string{*platform}; return nil })
	tag := fs.String("tag", "", "tag recorded in the tarball, used by docker load (default NAME:VERSION or NAME:latest)")
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
	o, err := c.Recipe.Options()
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
	img, err := local.Build(ctx, local.Request{Source: *src, Options: o, BaseRef: c.Recipe.BaseImageRef(), Log: stderr, Cache: goCache(cache)})
	if err != nil {
		return err
	}
	if *tag == "" {
		// local.Build resolved the name (from go.mod); the title label has it.
		cf, err := img.ConfigFile()
		if err != nil {
			return err
		}
		*tag = recipe.Options{Name: cf.Config.Labels["org.opencontainers.image.title"], Version: o.Version}.Tag()
	}
	if err := imagefile.Write(*out, *tag, img); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	st, _ := os.Stat(*out)
	fmt.Fprintf(stderr, "go-image: wrote %s (%s, %d bytes)\n", *out, *tag, st.Size())
	fmt.Fprintln(stdout, d)
	return nil
}
