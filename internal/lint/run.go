package lint

import (
	"context"
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"

	"dagger/go-image/internal/childenv"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/srcfile"
	"dagger/go-image/internal/timing"
)

// Finding is one diagnostic with its position.
type Finding struct {
	Analyzer string
	Pos      token.Position
	Message  string
	// Suppressed is the reason of the //go-image:ignore comment that
	// suppresses the finding, or "".
	Suppressed string
}

// Options tune a lint run; the zero value is go-image's defaults.
type Options struct {
	// Policy sets each analyzer's severity (default: deny).
	Policy Policy
	// Operational is healthmux's list of operational route prefixes
	// (see DefaultOperational); "" keeps the default.
	Operational string
}

// VetArgs are the go vet flags that give the vet tool (k8slint) the same
// configuration as Check with o: go vet -vettool=k8slint VetArgs(o)... -json ./...
func VetArgs(o Options) []string {
	if o.Operational == "" {
		return nil
	}
	return []string{"-" + HealthMux.Name + ".operational=" + o.Operational}
}

// VetCommand is the command line that lints the module in the current
// directory with the vet tool at tool, configured as Check with o: the Dagger
// module runs it in the builder, reads its standard output with
// ParseVetJSON and turns the findings into results with o.Policy.Results
// (and SARIF), exactly as the CLI does in process.
func VetCommand(tool string, o Options) []string { return Build{}.VetCommand(tool, o) }

// Build is the go command's configuration the packages are loaded with:
// build flags (-trimpath, -tags=…) and environment additions
// (CGO_ENABLED=0, GOOS, GOFLAGS…). Given the compile's own
// (recipe.Options.Packages), loading the packages with types costs
// almost nothing after the compile: the export data of the standard
// library and of every dependency is already in the build cache under
// that configuration. The zero value is the go command's defaults.
type Build struct {
	Flags []string
	Env   []string
}

// VetCommand is VetCommand with b's build flags; the caller sets b.Env in
// the command's environment.
func (b Build) VetCommand(tool string, o Options) []string {
	args := append([]string{"go", "vet", "-vettool=" + tool}, b.Flags...)
	args = append(args, VetArgs(o)...)
	return append(args, "-json", "./...")
}

// Load loads the packages matching patterns in dir (a module root, or a
// GOPATH tree when env says GO111MODULE=off) with syntax and types for the
// analyzers. Dependencies come from export data, so only the service's own
// packages are parsed.
func Load(ctx context.Context, dir string, env []string, patterns ...string) ([]*packages.Package, error) {
	return LoadBuild(ctx, dir, Build{Env: env}, patterns...)
}

// LoadBuild is Load with b's build configuration.
func LoadBuild(ctx context.Context, dir string, b Build, patterns ...string) ([]*packages.Package, error) {
	cfg := &packages.Config{
		Context: ctx,
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports |
			packages.NeedTypes | packages.NeedTypesSizes | packages.NeedSyntax | packages.NeedTypesInfo | packages.NeedModule,
		Dir: dir,
		// The go command (go list) gets the allowlisted environment.
		Env:        childenv.Go(os.Environ(), b.Env...),
		BuildFlags: b.Flags,
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
// position. Facts flow between the loaded packages, as they do between the
// packages go vet runs the vet tool on; dependencies outside pkgs are judged
// by their names, as the vet tool does (it skips other modules).
func Analyze(pkgs []*packages.Package, analyzers ...*analysis.Analyzer) ([]Finding, error) {
	forgetManifests()
	// Without NeedDeps an import is a placeholder; link the loaded packages
	// to each other and drop the rest, so the checker runs the analyzers
	// (and carries their facts) over exactly the service's packages.
	byID := map[string]*packages.Package{}
	for _, p := range pkgs {
		byID[p.ID] = p
	}
	for _, p := range pkgs {
		imports := map[string]*packages.Package{}
		for path, imp := range p.Imports {
			if q, ok := byID[imp.ID]; ok {
				imports[path] = q
			}
		}
		p.Imports = imports
	}
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
			f := Finding{Analyzer: act.Analyzer.Name, Pos: act.Package.Fset.Position(d.Pos), Message: d.Message}
			if d.Category == CategorySuppressed && len(d.Related) > 0 {
				f.Suppressed = d.Related[0].Message
			}
			out = append(out, f)
		}
	}
	sortFindings(out)
	return out, nil
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Pos.Filename != b.Pos.Filename {
			return a.Pos.Filename < b.Pos.Filename
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Analyzer != b.Analyzer {
			return a.Analyzer < b.Analyzer
		}
		return a.Message < b.Message
	})
}

// Check lints the Go module in dir (all its packages) with the default
// options and returns one result per analyzer.
func Check(ctx context.Context, dir string) ([]report.Result, error) {
	return CheckWith(ctx, dir, Options{})
}

// CheckWith lints the Go module in dir (all its packages) and returns one
// result per analyzer: a pass, a warning or a failure listing its findings.
func CheckWith(ctx context.Context, dir string, o Options) ([]report.Result, error) {
	fs, npkgs, err := Run(ctx, dir, o)
	if err != nil {
		return nil, err
	}
	return o.Policy.Results(dir, npkgs, Analyzers(), fs), nil
}

// Run lints the module in dir and returns its findings and how many
// packages it analysed.
func Run(ctx context.Context, dir string, o Options) ([]Finding, int, error) {
	return RunBuild(ctx, dir, o, Build{})
}

// RunBuild is Run with the packages loaded under b.
func RunBuild(ctx context.Context, dir string, o Options, b Build) ([]Finding, int, error) {
	// The analyzers' flags are package state (as in a vet tool): one run
	// configures them at a time.
	runMu.Lock()
	defer runMu.Unlock()
	restore, err := configure(o)
	if err != nil {
		return nil, 0, err
	}
	defer restore()
	// The loader parses the source in this process, through its links.
	if err := srcfile.CheckLinks(dir); err != nil {
		return nil, 0, err
	}
	end := timing.Start(ctx, "lint: load the packages (go list, type-check)")
	pkgs, err := LoadBuild(ctx, dir, b, "./...")
	end()
	if err != nil {
		return nil, 0, err
	}
	defer timing.Start(ctx, "lint: analyze")()
	fs, err := Analyze(pkgs, Analyzers()...)
	return fs, len(pkgs), err
}

var runMu sync.Mutex

// configure sets the analyzers' flags for one run, as VetArgs does for the
// vet tool.
func configure(o Options) (func(), error) {
	if o.Operational == "" {
		return func() {}, nil
	}
	f := HealthMux.Flags.Lookup("operational")
	prev := f.Value.String()
	if err := f.Value.Set(o.Operational); err != nil {
		return nil, err
	}
	return func() { _ = f.Value.Set(prev) }, nil
}

// Results turns findings into the report with the default policy (every
// analyzer denies). npkgs is how many packages were analysed, -1 if unknown.
func Results(dir string, npkgs int, as []*analysis.Analyzer, fs []Finding) []report.Result {
	return Policy(nil).Results(dir, npkgs, as, fs)
}

// Results turns findings into the report: one result per analyzer. A
// finding suppressed at its site is listed as "suppressed (reason)" and does
// not count; an analyzer whose severity is warn warns instead of failing.
// The CLI (findings from Analyze) and the Dagger module (findings from
// ParseVetJSON) call this same function.
func (p Policy) Results(dir string, npkgs int, as []*analysis.Analyzer, fs []Finding) []report.Result {
	var out []report.Result
	for _, a := range as {
		var details []string
		open, suppressed := 0, 0
		for _, f := range fs {
			if f.Analyzer != a.Name {
				continue
			}
			pos := relPos(dir, f.Pos)
			if f.Suppressed != "" {
				suppressed++
				details = append(details, fmt.Sprintf("%s: suppressed (%s): %s", pos, f.Suppressed, f.Message))
				continue
			}
			open++
			details = append(details, fmt.Sprintf("%s: %s", pos, f.Message))
		}
		r := report.Result{Gate: "lint", ID: "lint/" + a.Name, Details: details,
			Metrics: map[string]float64{"findings": float64(open), "suppressed": float64(suppressed)}}
		where := "the module"
		if npkgs >= 0 {
			r.Metrics["packages"] = float64(npkgs)
			where = fmt.Sprintf("%d package(s)", npkgs)
		}
		sev := p.Severity(a.Name)
		switch {
		case open == 0 && suppressed == 0:
			r.Status, r.Message = report.Pass, fmt.Sprintf("no findings in %s: %s", where, firstLine(a.Doc))
		case open == 0:
			r.Status, r.Message = report.Pass, fmt.Sprintf("%d finding(s), all suppressed with a reason: %s", suppressed, firstLine(a.Doc))
		case sev == Warn:
			r.Status, r.Message = report.Warn, fmt.Sprintf("%d finding(s) (severity warn: reported, not blocking): %s", open, firstLine(a.Doc))
		default:
			r.Status, r.Message = report.Fail, fmt.Sprintf("%d finding(s): %s", open, firstLine(a.Doc))
		}
		if suppressed > 0 && open > 0 {
			r.Message += fmt.Sprintf(" (%d more suppressed)", suppressed)
		}
		out = append(out, r)
	}
	return out
}

// relPos shows a position relative to dir when it is inside it.
func relPos(dir string, pos token.Position) token.Position {
	if rel, err := filepath.Rel(dir, pos.Filename); err == nil && inside(rel) {
		pos.Filename = rel
	}
	return pos
}

// inside reports whether rel, a filepath.Rel result, stays in its base:
// "..x.go" is a file of the base, "../x.go" is not.
func inside(rel string) bool {
	return !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
