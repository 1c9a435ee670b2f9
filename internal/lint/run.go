package lint

import (
	"context"
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"

	"dagger/go-image/internal/report"
)

// Finding is one diagnostic with its position.
type Finding struct {
	Analyzer string
	Pos      token.Position
	Message  string
}

// Load loads the packages matching patterns in dir (a module root, or a
// GOPATH tree when env says GO111MODULE=off) with syntax and types for the
// analyzers. Dependencies come from export data, so only the service's own
// packages are parsed.
func Load(ctx context.Context, dir string, env []string, patterns ...string) ([]*packages.Package, error) {
	cfg := &packages.Config{
		Context: ctx,
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports |
			packages.NeedTypes | packages.NeedTypesSizes | packages.NeedSyntax | packages.NeedTypesInfo | packages.NeedModule,
		Dir: dir,
		Env: append(os.Environ(), env...),
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, fmt.Errorf("load %s in %s: %w", strings.Join(patterns, " "), dir, err)
	}
	var errs []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			errs = append(errs, e.Error())
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("load %s in %s: %s (does `go build ./...` succeed there? run `go mod download` first if modules are missing)", strings.Join(patterns, " "), dir, strings.Join(errs, "; "))
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("load %s in %s: no packages", strings.Join(patterns, " "), dir)
	}
	return pkgs, nil
}

// Analyze runs the analyzers over pkgs and returns the findings sorted by
// position.
func Analyze(pkgs []*packages.Package, analyzers ...*analysis.Analyzer) ([]Finding, error) {
	g, err := checker.Analyze(analyzers, pkgs, nil)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for act := range g.All() {
		if !act.IsRoot {
			continue
		}
		if act.Err != nil {
			return nil, fmt.Errorf("%s on %s: %w", act.Analyzer.Name, act.Package.PkgPath, act.Err)
		}
		for _, d := range act.Diagnostics {
			out = append(out, Finding{Analyzer: act.Analyzer.Name, Pos: act.Package.Fset.Position(d.Pos), Message: d.Message})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Line < b.Line || (a.Line == b.Line && out[i].Analyzer < out[j].Analyzer)
	})
	return out, nil
}

// Check lints the Go module in dir (all its packages) and returns one result
// per analyzer: a pass, or a failure listing its findings.
func Check(ctx context.Context, dir string) ([]report.Result, error) {
	pkgs, err := Load(ctx, dir, nil, "./...")
	if err != nil {
		return nil, err
	}
	as := Analyzers()
	fs, err := Analyze(pkgs, as...)
	if err != nil {
		return nil, err
	}
	return Results(dir, len(pkgs), as, fs), nil
}

// Results turns findings into the report: one result per analyzer. npkgs
// is how many packages were analysed, -1 if unknown.
func Results(dir string, npkgs int, as []*analysis.Analyzer, fs []Finding) []report.Result {
	var out []report.Result
	for _, a := range as {
		var details []string
		for _, f := range fs {
			if f.Analyzer != a.Name {
				continue
			}
			pos := f.Pos
			if rel, err := filepath.Rel(dir, pos.Filename); err == nil && !strings.HasPrefix(rel, "..") {
				pos.Filename = rel
			}
			details = append(details, fmt.Sprintf("%s: %s", pos, f.Message))
		}
		r := report.Result{Gate: "lint", ID: "lint/" + a.Name, Metrics: map[string]float64{"findings": float64(len(details))}}
		where := "the module"
		if npkgs >= 0 {
			r.Metrics["packages"] = float64(npkgs)
			where = fmt.Sprintf("%d package(s)", npkgs)
		}
		if len(details) == 0 {
			r.Status, r.Message = report.Pass, fmt.Sprintf("no findings in %s: %s", where, firstLine(a.Doc))
		} else {
			r.Status, r.Message, r.Details = report.Fail, fmt.Sprintf("%d finding(s): %s", len(details), firstLine(a.Doc)), details
		}
		out = append(out, r)
	}
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
