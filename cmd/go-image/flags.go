package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

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

// recipeFlags registers the recipe's options on fs.
type recipeFlags struct {
	o       recipe.Options
	ldflags listFlag
	tags    listFlag
	labels  listFlag
}

func addRecipeFlags(fs *flag.FlagSet) *recipeFlags {
	r := &recipeFlags{}
	fs.StringVar(&r.o.Main, "main", ".", "main package, relative to --source")
	fs.StringVar(&r.o.Name, "name", "", "binary name (default: the main package's directory, or the module path's last element)")
	fs.StringVar((*string)(&r.o.Base), "base", string(recipe.Scratch), "final stage base: scratch or alpine")
	fs.StringVar(&r.o.Version, "version", "", "version injected with -X (see --version-var) and set as the OCI version label")
	fs.StringVar(&r.o.VersionVar, "version-var", recipe.DefaultVersionVar, "string variable that receives --version")
	fs.Var(&r.ldflags, "ldflag", "extra linker flag (repeatable)")
	fs.Var(&r.tags, "tags", "Go build tag (repeatable)")
	fs.Var(&r.labels, "label", "extra OCI label key=value (repeatable)")
	fs.StringVar(&r.o.Source, "source-url", "", "org.opencontainers.image.source label")
	fs.StringVar(&r.o.Revision, "revision", "", "org.opencontainers.image.revision label")
	fs.Int64Var(&r.o.SourceDateEpoch, "source-date-epoch", 0, "timestamp (Unix seconds) for every file and the image; same inputs give the same digest")
	return r
}

// options returns the recipe options, validated but not yet defaulted: the
// binary name default depends on the source's go.mod, which the executor reads.
func (r *recipeFlags) options() (recipe.Options, error) {
	o := r.o
	o.Ldflags = append([]string(nil), r.ldflags...)
	o.Tags = append([]string(nil), r.tags...)
	var err error
	if o.Labels, err = recipe.ParseLabels(r.labels); err != nil {
		return o, usageError{fmt.Errorf("--%w", err)}
	}
	if _, err := o.Normalize(); err != nil {
		return o, usageError{err}
	}
	return o, nil
}
