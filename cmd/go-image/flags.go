package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/recipe"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// pathFlag is a file or directory flag made absolute when it is parsed:
// children run elsewhere (Trivy in a temporary directory), and a relative
// path would be resolved against their directory, not the user's.
type pathFlag struct{ p *string }

func (f pathFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

func (f pathFlag) Set(s string) error {
	if s == "" {
		*f.p = ""
		return nil
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	*f.p = abs
	return nil
}

// pathVar is pathVar with the binder's flag set, for bind.
func (b *binder) pathVar(p *string, name, value, usage string) { pathVar(b.fs, p, name, value, usage) }

// pathVar defines a path flag; value, the default, is kept as given.
func pathVar(fs *flag.FlagSet, p *string, name, value, usage string) {
	*p = value
	fs.Var(pathFlag{p}, name, usage)
}

// newFlagSet returns a flag set whose errors are returned, not fatal.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("go-image "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args and rejects stray positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q: every input is a flag", fs.Arg(0))}
	}
	return nil
}

// binder binds flags into choices.Choices, as ko's options structs bind
// cobra flags, with one difference: only the flags given on the command
// line become choices. A flag left out leaves its choice unset, so its
// default is the one choices applies (and shows here, from
// choices.Default), and a policy file can later supply it. The binder
// also knows which flag sets which choice, to name it in an error.
type binder struct {
	fs *flag.FlagSet
	c  *choices.Choices
	// sets copies a given flag's value into its choice.
	sets map[string]func() error
	// flags names the flag of a choice (choices.Fields), "" when several
	// flags set it.
	flags map[string]string
}

func newBinder(fs *flag.FlagSet, c *choices.Choices) *binder {
	return &binder{fs: fs, c: c, sets: map[string]func() error{}, flags: map[string]string{}}
}

// bind registers flag name for the choice at dst, with define (fs.StringVar,
// fs.IntVar…) and the default shown in the help.
func bind[T any](b *binder, dst **T, name string, def T, usage string, define func(*T, string, T, string)) {
	v := new(T)
	define(v, name, def, usage)
	b.on(dst, name, func() error { *dst = v; return nil })
}

// on records that flag name sets the choice at dst, with set.
func (b *binder) on(dst any, name string, set func() error) {
	b.sets[name] = set
	field := b.c.Field(dst)
	if prev, ok := b.flags[field]; ok && prev != name {
		b.flags[field] = ""
		return
	}
	b.flags[field] = name
}

// duration binds a Go duration flag to a choice in its words ("10s").
func (b *binder) duration(dst **string, name string, def time.Duration, usage string) {
	v := b.fs.Duration(name, def, usage)
	b.on(dst, name, func() error { *dst = new(v.String()); return nil })
}

// list binds a repeatable flag to a choice, with parse turning the values
// into it.
func (b *binder) list(dst any, name, usage string, parse func([]string) error) {
	var l listFlag
	b.fs.Var(&l, name, usage)
	b.on(dst, name, func() error { return parse(l) })
}

// apply copies the flags given into the choices, after fs.Parse.
func (b *binder) apply() error {
	var errs []error
	b.fs.Visit(func(f *flag.Flag) {
		if set := b.sets[f.Name]; set != nil {
			if err := set(); err != nil {
				errs = append(errs, usageError{fmt.Errorf("--%s: %w", f.Name, err)})
			}
		}
	})
	return errors.Join(errs...)
}

// named prefixes a bad choice's error with the flag that set it.
func (b *binder) named(err error) error {
	var ce *choices.Error
	if errors.As(err, &ce) {
		if f := b.flagOf(ce.Field); f != "" {
			return fmt.Errorf("--%s: %w", f, err)
		}
	}
	return err
}

// flagOf is the flag that set the choice at field, or the map or
// section it belongs to (--skip for gates.skip.harden/no-setuid); "" when
// several flags set it.
func (b *binder) flagOf(field string) string {
	for f := range choices.Enclosing(field) {
		if name, ok := b.flags[f]; ok {
			return name
		}
	}
	return ""
}

// validate checks every choice: a bad one is a usage error naming its flag.
// usage is err as a usage error naming its flag when it is a choice's
// (a *choices.Error), else err itself.
func (b *binder) usage(err error) error {
	var ce *choices.Error
	if errors.As(err, &ce) {
		return usageError{b.named(err)}
	}
	return err
}

func (b *binder) validate() error {
	if err := b.c.Validate(); err != nil {
		return usageError{b.named(err)}
	}
	return nil
}

// addRecipeFlags binds the recipe's flags, shared by build and release;
// the platform flag is the command's own.
func addRecipeFlags(b *binder) {
	r, d := &b.c.Recipe, choices.Default().Recipe
	fs := b.fs
	b.list(&r.Main, "main", "main package, relative to --source, or a pattern such as ./cmd/... (repeatable; default "+strings.Join(d.Main, ",")+"): one image per main package, named after its directory", func(l []string) error { r.Main = l; return nil })
	bind(b, &r.Name, "name", "", "binary name (default: the main package's directory, or the module path's last element)", fs.StringVar)
	bind(b, &r.Base, "base", *d.Base, "final stage base: scratch or alpine", fs.StringVar)
	bind(b, &r.Version, "version", "", "version injected with -X (see --version-var) and set as the OCI version label", fs.StringVar)
	bind(b, &r.VersionVar, "version-var", *d.VersionVar, "string variable that receives --version", fs.StringVar)
	b.list(&r.Ldflags, "ldflag", "extra linker flag (repeatable)", func(l []string) error { r.Ldflags = l; return nil })
	b.list(&r.Tags, "tags", "Go build tag (repeatable)", func(l []string) error { r.Tags = l; return nil })
	b.list(&r.Labels, "label", "extra OCI label key=value (repeatable)", func(l []string) (err error) {
		r.Labels, err = recipe.ParseLabels(l)
		return err
	})
	bind(b, &r.SourceURL, "source-url", "", "org.opencontainers.image.source label", fs.StringVar)
	bind(b, &r.Revision, "revision", "", "org.opencontainers.image.revision label", fs.StringVar)
	bind(b, &r.SourceDateEpoch, "source-date-epoch", 0, "timestamp (Unix seconds) for every file and the image; same inputs give the same digest", fs.Int64Var)
	bind(b, &r.BaseImage, "base-image", "", "alpine base image reference, pulled by digest when --base=alpine (default "+recipe.DefaultAlpineImage+")", fs.StringVar)
}

// addGateFlags binds the built-in gates' flags (size, upx, the hardening
// skips), shared by check and release.
func addGateFlags(b *binder, sizeUsage, upxUsage string) {
	g, d := &b.c.Gates, choices.Default().Gates
	bind(b, &g.MaxSize, "max-size", *d.MaxSize, sizeUsage, b.fs.StringVar)
	bind(b, &g.UPX, "upx", *d.UPX, upxUsage, b.fs.StringVar)
	b.list(&g.Skip, "skip", "skip a hardening check, id=reason (repeatable), e.g. --skip 'harden/no-setuid=base ships ping'", func(l []string) error {
		g.Skip = map[string]string{}
		for _, s := range l {
			// Validate says what a skip without "=reason" lacks.
			id, reason, _ := strings.Cut(s, "=")
			g.Skip[id] = reason
		}
		return nil
	})
}

// addOffFlag binds --no-<gate> REASON, which switches a gate off.
func addOffFlag(b *binder, gate, usage string) {
	g := &b.c.Gates
	v := b.fs.String("no-"+gate, "", usage)
	b.on(&g.Off, "no-"+gate, func() error {
		if g.Off == nil {
			g.Off = map[string]string{}
		}
		g.Off[gate] = *v
		return nil
	})
	// Several flags share gates.off; each gate's entry is its own flag's.
	b.flags["gates.off."+gate] = "no-" + gate
}
