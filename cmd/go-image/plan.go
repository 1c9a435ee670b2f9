package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/config"
	"dagger/go-image/internal/local"
	"dagger/go-image/internal/plan"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/srcfile"
)

// planFlags are the flags of the commands that build from a source: the
// policy file and how many binaries run at once.
type planFlags struct {
	config string
	jobs   int
}

func addPlanFlags(fs *flag.FlagSet) *planFlags {
	p := &planFlags{}
	pathVar(fs, &p.config, "config", "", "policy file (default: "+config.FileName+" at the --source root, when there is one); flags override it")
	fs.IntVar(&p.jobs, "jobs", runtime.NumCPU(), "binaries built and gated at once (default: the core count)")
	return p
}

// load reads the policy file: --config, else go-image.yaml at the root of
// src when there is one (nil, nil when not). The source's file is opened
// through the source root, so a link in a checkout cannot make go-image
// read a file elsewhere on the machine.
func (p *planFlags) load(src string) (*config.File, error) {
	if p.config != "" {
		f, err := os.Open(p.config)
		if err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
		defer f.Close()
		return readConfig(f, "--config "+p.config, p.config)
	}
	f, err := srcfile.Open(src, config.FileName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := filepath.Join(src, config.FileName)
	return readConfig(f, name, name)
}

// readConfig reads the open policy file f, which must be a regular file
// (what names it in that error; path is the file's name in its own errors).
func readConfig(f *os.File, what, path string) (*config.File, error) {
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", what)
	}
	return config.Read(path, f)
}

// provenance is the policy file as the provenance records it: its path
// relative to the source (the same on every machine) and its digest.
func provenance(cfg *config.File, src string) *attest.Config {
	if cfg == nil {
		return nil
	}
	path := filepath.Base(cfg.Path)
	if rel, err := filepath.Rel(src, cfg.Path); err == nil && filepath.IsLocal(rel) {
		path = filepath.ToSlash(rel)
	}
	return attest.ConfigFile(path, cfg.Digest)
}

// layer is the flags given, as the top layer of choices: each choice's
// origin is its flag.
func (b *binder) layer() choices.Layer {
	return choices.Layer{Choices: *b.c, Origin: func(field string) choices.Origin {
		if name := b.flagOf(field); name != "" {
			return choices.Origin{Kind: choices.FromFlag, Where: "--" + name}
		}
		return choices.Origin{Kind: choices.FromFlag}
	}}
}

// plan reads the policy file, lists the main packages of src and makes
// each binary's choices. A bad flag is a usage error naming it; a bad
// policy file names its line and column.
func (p *planFlags) plan(ctx context.Context, src string, b *binder) (*config.File, []plan.Binary, error) {
	cfg, err := p.load(src)
	if err != nil {
		return nil, nil, err
	}
	abs, err := compile.Source(src)
	if err != nil {
		return nil, nil, err
	}
	if err := srcfile.CheckLinks(abs); err != nil {
		return nil, nil, err
	}
	modulePath, err := compile.ModulePath(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("source %s: %w", src, err)
	}
	in := plan.Inputs{Config: cfg, Flags: b.layer()}
	bins, err := in.Expand(ctx, modulePath, func(ctx context.Context, argv []string) ([]byte, error) {
		return compile.List(ctx, abs, argv)
	})
	if err != nil {
		return nil, nil, b.usage(err)
	}
	// The policy file names files relative to the source root; a flag's
	// path is the user's own (made absolute when parsed).
	for i, bin := range bins {
		if f := bin.Choices.Gates.Scan.IgnoreFile; f != nil && bin.Origins.Of("gates.scan.ignoreFile").Kind == choices.FromFile {
			in, err := local.Files{Root: src}.InSource(ctx, filepath.FromSlash(*f))
			if err != nil {
				return nil, nil, err
			}
			if in == "" {
				in = filepath.Join(src, filepath.FromSlash(*f)) // missing: the scan says so
			}
			bins[i].Choices.Gates.Scan.IgnoreFile = &in
		}
	}
	return cfg, bins, nil
}

// configFlag is --config of the commands that read an image or a source
// without building it (check, scan, smoke, lint).
func configFlag(b *binder) *string {
	var p string
	pathVar(b.fs, &p, "config", "", "policy file ("+config.FileName+") whose gate choices apply: its top level, and for an image its section for --binary; flags override it (lint: default "+config.FileName+" at the --source root)")
	return &p
}

// imagePolicy is --config and --binary of the commands that read an image
// go-image did not build (check, scan, smoke).
type imagePolicy struct{ config, binary *string }

func imagePolicyFlags(b *binder) imagePolicy {
	p := imagePolicy{config: configFlag(b), binary: new(string)}
	b.fs.StringVar(p.binary, "binary", "", "with --config: the binary whose section of the policy file applies to the image (required when the file has sections; never taken from the image's own labels)")
	return p
}

// imageChoices are the choices of a command that reads an image: the
// flags alone without a policy file, else the file's top level and its
// section for --binary (plan.ImageSection), under the flags.
func imageChoices(p imagePolicy, img v1.Image, b *binder) (choices.Choices, []report.Setting, error) {
	if *p.config == "" {
		if *p.binary != "" {
			return choices.Choices{}, nil, usageError{errors.New("--binary names a section of the policy file: give the file with --config")}
		}
		return *b.c, nil, nil
	}
	cfg, err := (&planFlags{config: *p.config}).load("")
	if err != nil {
		return choices.Choices{}, nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return choices.Choices{}, nil, err
	}
	name, err := plan.ImageSection(cfg, *p.binary, cf.Config.Labels["org.opencontainers.image.title"])
	if err != nil {
		return choices.Choices{}, nil, usageError{err}
	}
	bin, err := plan.Inputs{Config: cfg, Flags: b.layer()}.ForImage(name)
	if err != nil {
		return choices.Choices{}, nil, b.usage(err)
	}
	return bin.Choices, bin.ReportSettings(), nil
}

// sourceChoices are lint's choices: the policy file's top level (--config,
// else the source's go-image.yaml) under the flags.
func sourceChoices(configPath, src string, b *binder) (choices.Choices, error) {
	cfg, err := (&planFlags{config: configPath}).load(src)
	if err != nil || cfg == nil {
		return *b.c, err
	}
	bin, err := plan.Inputs{Config: cfg, Flags: b.layer()}.ForImage("")
	if err != nil {
		return choices.Choices{}, b.usage(err)
	}
	return bin.Choices, nil
}
