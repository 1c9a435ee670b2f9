// Package compile runs the recipe's go build with the local toolchain (the
// daemonless executor) and turns the go command's failures into errors that
// name the cause and the fix.
package compile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"

	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/safetext"
	"dagger/go-image/internal/srcfile"
	"dagger/go-image/internal/timing"
)

// ModulePath returns the module path declared in dir/go.mod.
func ModulePath(dir string) (string, error) {
	b, err := ReadGoMod(dir)
	if err != nil {
		return "", err
	}
	return ModulePathOf(b)
}

// ReadGoMod reads dir/go.mod as a file of hostile source: through the
// source root, a regular file, at most srcfile.MaxGoMod bytes. A go.mod
// linked to /dev/zero used to take all the memory, and a FIFO to hang
// past SIGTERM, before the go command ever ran.
func ReadGoMod(dir string) ([]byte, error) {
	return srcfile.Read(dir, "go.mod", srcfile.MaxGoMod)
}

// ModulePathOf returns the module path declared in the go.mod contents.
func ModulePathOf(gomod []byte) (string, error) {
	if p := modfile.ModulePath(gomod); p != "" {
		return p, nil
	}
	return "", errors.New("go.mod has no module line")
}

// Source checks that dir is a Go module root and returns its absolute path.
func Source(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", dir, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("source %s: not a directory: pass the module root (the directory with go.mod)", dir)
	}
	if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
		return "", fmt.Errorf("source %s: no go.mod: pass the module root, or run `go mod init` there first", dir)
	}
	return abs, nil
}

// Package is what `go list` says about the main package.
type Package struct {
	ImportPath string
	Name       string
	CgoFiles   []string
	Error      *struct{ Err string }
}

// CheckArgs is the pre-flight's go list command line for the main package
// main, run in the module dir with CGO_ENABLED=1 (both executors run it).
// -buildvcs=false: with VCS stamping, go list -json runs git status in
// the source's repository, and git runs what the source's .git/config
// names (core.fsmonitor), as go-image's user, beside the release's
// secrets.
func CheckArgs(main string) []string {
	return []string{"go", "list", "-buildvcs=false", "-e", "-json=ImportPath,Name,CgoFiles,Error", "--", main}
}

// CheckMain verifies that o.Main is a main package without cgo, before a
// compile whose errors would say less.
func CheckMain(ctx context.Context, dir string, o recipe.Options) error {
	out, err := goList(ctx, dir, CheckArgs(o.Main)[2:])
	if err != nil {
		return fmt.Errorf("inspect %s in %s: %w", o.Main, dir, err)
	}
	return DiagnoseJSON(o.Main, out)
}

// DiagnoseJSON is Diagnose over `go list -e -json` output.
func DiagnoseJSON(main string, listJSON []byte) error {
	var p Package
	if err := json.Unmarshal(listJSON, &p); err != nil {
		return fmt.Errorf("inspect %s: %w", main, err)
	}
	return Diagnose(main, p)
}

// Diagnose turns go list's view of the main package into an actionable error.
// go list's error and file names are the source's text (a cgo file named
// "x\n::add-mask::FAIL.go" put a workflow command at the start of a line),
// so they are quoted escaped, one line each: the Dagger module's errors
// reach the CI log as they are.
func Diagnose(main string, p Package) error {
	if p.Error != nil {
		e := *p.Error
		e.Err = safetext.Line(e.Err)
		p.Error = &e
	}
	cgo := make([]string, len(p.CgoFiles))
	for i, f := range p.CgoFiles {
		cgo[i] = safetext.Line(f)
	}
	p.CgoFiles = cgo
	switch {
	case p.Error != nil && strings.Contains(p.Error.Err, "no Go files"):
		return fmt.Errorf("main package %s: no Go files there: point --main at the directory of package main, e.g. ./cmd/server", main)
	case p.Error != nil && (strings.Contains(p.Error.Err, "cannot find") || strings.Contains(p.Error.Err, "directory not found") || strings.Contains(p.Error.Err, "does not contain package")):
		return fmt.Errorf("main package %s: not found in the module: %s", main, p.Error.Err)
	case p.Name != "" && p.Name != "main":
		return fmt.Errorf("main package %s: is package %s, not main: point --main at the directory of package main, e.g. ./cmd/server", main, p.Name)
	case len(p.CgoFiles) > 0:
		return fmt.Errorf("main package %s: uses cgo (import \"C\" in %s), but go-image builds static binaries with CGO_ENABLED=0: replace the cgo dependency with a pure-Go one", main, strings.Join(p.CgoFiles, ", "))
	}
	return nil
}

// Build compiles o.Main in dir to out. env is added to the go command's
// environment (a GOCACHEPROG, for --build-cache).
//
// The pre-flight (CheckMain) and the compile run side by side: the
// pre-flight decides, and only explains what the compile would do wrong
// (a cgo package compiles, without its cgo files, under CGO_ENABLED=0), so
// when it refuses the package, the compile is stopped and its output is
// never used. Run one after the other, the pre-flight's go list cost a
// warm release 0.12-0.24 s.
func Build(ctx context.Context, dir string, o recipe.Options, out string, env ...string) error {
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	built := make(chan error, 1)
	go func() {
		defer timing.Start(ctx, "compile: go build")()
		built <- build(bctx, dir, o, out, env)
	}()
	end := timing.Start(ctx, "compile: go list (pre-flight)")
	err := CheckMain(ctx, dir, o)
	end()
	if err != nil {
		cancel()
		<-built
		return err
	}
	return <-built
}

// build runs the recipe's go build.
func build(ctx context.Context, dir string, o recipe.Options, out string, env []string) error {
	c := o.Compile(out)
	c.Env = slices.Concat(c.Env, env)
	return buildChecked(ctx, dir, c, o.Packages().Args, []string{o.Main}, o.Main)
}

// ReplacesOutside returns the go.mod replace directives whose target is a
// directory outside the module root ("../stub", "/abs/path"), as
// "old => new". An executor that sees only the module root (the Dagger
// module's --source) cannot resolve them; it reports them before building
// rather than failing inside go with "replacement directory does not exist".
func ReplacesOutside(gomod []byte) ([]string, error) {
	f, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		return nil, fmt.Errorf("go.mod: %w", err)
	}
	var out []string
	for _, r := range f.Replace {
		p := filepath.ToSlash(r.New.Path)
		if r.New.Version != "" || !(filepath.IsAbs(p) || strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../")) {
			continue
		}
		out = append(out, r.Old.Path+" => "+r.New.Path)
	}
	return out, nil
}
