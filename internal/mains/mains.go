// Package mains turns the main packages a user names (./cmd/api, ./cmd/...,
// ./...) into the binaries of one call, from what `go list` says about
// them: one image per main package, named after its directory. Both
// executors run the same go list (ListArgs: the CLI with the local
// toolchain, the module in its builder) and hand its output to Expand, so
// a pattern means the same binaries everywhere.
//
// A library package named explicitly is an error (it would build nothing);
// matched by a pattern it is skipped, as `go build ./...` skips it. A
// pattern that matches no main package is an error too: a typo must not
// release nothing and succeed.
package mains

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/safetext"
)

// Default is the main package when none is named: the module root.
const Default = "."

// MaxArgs bounds the packages and patterns of one call: far above any
// repository's list of mains, far below a command line that could exhaust
// go list.
const MaxArgs = 256

// MaxBinaries bounds the binaries of one call. The source decides how many
// main packages ./... matches: a pull request that adds thousands of tiny
// ones must not make a release build, gate and push thousands of images,
// each to a repository of its own through {name}. Far above a monorepo's
// dozens; more is several calls, each with its own patterns.
const MaxBinaries = 256

// Binary is one main package to build.
type Binary struct {
	// Name is the binary's name: the main package's directory, or the
	// module path's last element for the module root (recipe.DefaultName).
	Name string `json:"name"`
	// Main is the package, relative to the module root: "." or "./cmd/api".
	Main string `json:"main"`
}

// Normalize checks the packages and patterns the user named and returns
// them as go list must receive them: relative to the source ("./cmd/api",
// "./cmd/..."), since a bare "cmd/api" would name an import path (of the
// standard library, even), and without duplicates. A path that leaves the
// source, an absolute path, a flag-like or a control character is refused
// before anything runs.
func Normalize(args []string) ([]string, error) {
	if len(args) == 0 {
		return []string{Default}, nil
	}
	if len(args) > MaxArgs {
		return nil, fmt.Errorf("main packages: %d given, at most %d: use a pattern such as ./cmd/...", len(args), MaxArgs)
	}
	var out []string
	for _, a := range args {
		if a == "" {
			return nil, errors.New("main package \"\": name a directory of the source, e.g. ./cmd/api, or a pattern, e.g. ./cmd/...")
		}
		if i := safetext.Index(a); i >= 0 {
			return nil, fmt.Errorf("main package %q: control or invisible character at byte %d: remove it", a, i)
		}
		if strings.ContainsAny(a, ",") {
			return nil, fmt.Errorf("main package %q: one package or pattern per entry (repeat the flag, or use ./cmd/...)", a)
		}
		p := path.Clean(strings.ReplaceAll(a, "\\", "/"))
		pattern := strings.Contains(p, "...")
		if pattern && !strings.HasSuffix(p, "/...") && p != "..." {
			return nil, fmt.Errorf("main package pattern %q: go-image reads only a trailing /..., e.g. ./cmd/...", a)
		}
		dir := strings.TrimSuffix(strings.TrimSuffix(p, "..."), "/")
		if dir == "" {
			dir = "."
		}
		if path.IsAbs(p) || dir == ".." || strings.HasPrefix(dir, "../") || strings.Contains(dir, "...") {
			return nil, fmt.Errorf("main package %q: must be a directory inside the source, e.g. ./cmd/api or ./cmd/...", a)
		}
		if dir != "." {
			dir = "./" + dir
		}
		n := dir
		if pattern {
			// Not path.Join: it would drop the "./" and hand go list
			// "cmd/...", the standard library's commands.
			n = dir + "/..."
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// IsPattern says whether a normalized argument is a pattern (./cmd/...).
func IsPattern(arg string) bool { return strings.HasSuffix(arg, "...") }

// ListArgs is the go list command line that Expand reads, for normalized
// arguments. CGO_ENABLED=1 must be in its environment, so that cgo files
// are listed rather than silently left out (see compile.Diagnose).
// -buildvcs=false, as in compile.CheckArgs: VCS stamping runs git in the
// source, and git what the source's .git/config names.
func ListArgs(args []string) []string {
	return append([]string{"go", "list", "-buildvcs=false", "-e", "-json=ImportPath,Name,CgoFiles,Error,Match", "--"}, args...)
}

// listed is one package of ListArgs' output.
type listed struct {
	compile.Package
	Match []string
}

// MaxListOutput bounds go list's output that Expand reads: a repository
// with thousands of packages stays far below it.
const MaxListOutput = 64 << 20

// Expand reads go list's output (ListArgs) for the normalized arguments
// args of the module modulePath and returns the binaries, sorted by main
// package. Every explicit argument must be a buildable main package
// (compile.Diagnose says why not); every pattern must match at least one
// main package; two binaries may not share a name.
func Expand(args []string, modulePath string, listJSON []byte) ([]Binary, error) {
	if len(listJSON) > MaxListOutput {
		return nil, fmt.Errorf("go list: %d bytes of output, more than %d", len(listJSON), MaxListOutput)
	}
	byArg := map[string][]listed{}
	dec := json.NewDecoder(bytes.NewReader(listJSON))
	for {
		var p listed
		err := dec.Decode(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read go list's output: %w", err)
		}
		for _, m := range p.Match {
			byArg[m] = append(byArg[m], p)
		}
	}
	found := map[string]Binary{}
	for _, a := range args {
		pkgs := byArg[a]
		if !IsPattern(a) {
			if len(pkgs) != 1 {
				return nil, fmt.Errorf("main package %s: go list reported %d packages for it: is it a directory of the source?", a, len(pkgs))
			}
			if err := compile.Diagnose(a, pkgs[0].Package); err != nil {
				return nil, err
			}
		}
		mains := 0
		for _, p := range pkgs {
			if IsPattern(a) {
				if p.Error != nil && p.Name == "" {
					return nil, fmt.Errorf("main packages %s: %s", a, safetext.Line(p.Error.Err))
				}
				if p.Name != "main" {
					continue // a library inside a pattern: nothing to build
				}
				if err := compile.Diagnose(a, p.Package); err != nil {
					return nil, err
				}
			}
			main, err := relative(p.ImportPath, modulePath)
			if err != nil {
				return nil, fmt.Errorf("main package %s: %w", a, err)
			}
			mains++
			found[main] = Binary{Name: recipe.DefaultName(main, modulePath), Main: main}
		}
		if IsPattern(a) && mains == 0 {
			return nil, fmt.Errorf("main packages %s: the pattern matches no main package (libraries are skipped): name the directory of a package main, e.g. ./cmd/api", a)
		}
	}
	if len(found) > MaxBinaries {
		return nil, fmt.Errorf("main packages %s: %d main packages, at most %d in one call: name fewer (./cmd/... rather than ./...), or split them over several calls", strings.Join(args, " "), len(found), MaxBinaries)
	}
	out := make([]Binary, 0, len(found))
	for _, b := range found {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Main < out[j].Main })
	byName := map[string]Binary{}
	for _, b := range out {
		// Folded: API.tar and api.tar are one file on a case-insensitive
		// file system (go build --output DIR/, Dagger's tarballs), and
		// go refuses such a collision only between import paths.
		key := strings.ToLower(b.Name)
		if prev, dup := byName[key]; dup {
			if prev.Name == b.Name {
				return nil, fmt.Errorf("main packages %s and %s both build a binary named %s, and an image is named after its binary: build one of them in a call of its own, with --name", safetext.Line(prev.Main), safetext.Line(b.Main), safetext.Line(b.Name))
			}
			return nil, fmt.Errorf("main packages %s and %s build binaries named %s and %s, one name to a case-insensitive file system and to a registry: rename one directory, or build one of them in a call of its own, with --name", safetext.Line(prev.Main), safetext.Line(b.Main), safetext.Line(prev.Name), safetext.Line(b.Name))
		}
		byName[key] = b
	}
	return out, nil
}

// relative is the package's directory relative to the module root, from
// its import path: "." for the module itself, "./cmd/api" below it.
func relative(importPath, modulePath string) (string, error) {
	if importPath == modulePath {
		return ".", nil
	}
	if rest, ok := strings.CutPrefix(importPath, modulePath+"/"); ok && rest != "" {
		return "./" + rest, nil
	}
	return "", fmt.Errorf("package %s is not in the source's module %s: go-image builds the mains of one module", safetext.Line(importPath), modulePath)
}

// Names are the binaries' names, in order.
func Names(bs []Binary) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Name
	}
	return out
}
