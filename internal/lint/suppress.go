package lint

import (
	"fmt"
	"go/ast"
	"go/token"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// A finding is suppressed at its site by a comment on its line or on the
// line above:
//
//	//go-image:ignore httpshutdown -- the listener is closed by the test harness
//
// Several analyzers may be named, comma-separated. The reason after "--" is
// mandatory. A suppressed finding is still reported, with the category
// CategorySuppressed and the reason as its related information, so the report
// shows "suppressed (reason)" and never drops it silently; both the vet tool
// and the in-process checker carry it the same way.
const (
	ignoreDirective = "//go-image:ignore"
	// CategorySuppressed is the diagnostic category of a suppressed finding.
	CategorySuppressed = "suppressed"
)

// ignore is one parsed suppression comment.
type ignore struct {
	pos       token.Pos
	line      int
	file      string
	analyzers []string
	reason    string
	problem   string // why the comment is malformed, or ""
}

// parseIgnores returns the suppression comments of a file.
func parseIgnores(fset *token.FileSet, f *ast.File) []ignore {
	var out []ignore
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			rest, ok := strings.CutPrefix(c.Text, ignoreDirective)
			if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
				continue
			}
			// A second comment after the analyzer names is not part of
			// the directive (the reason, after "--", may hold a URL).
			if i, dash := strings.Index(rest, "//"), strings.Index(rest, "--"); i >= 0 && (dash < 0 || i < dash) {
				rest = rest[:i]
			}
			pos := fset.Position(c.Slash)
			ig := ignore{pos: c.Slash, line: pos.Line, file: pos.Filename}
			names, reason, hasReason := strings.Cut(rest, "--")
			ig.reason = strings.TrimSpace(reason)
			for _, n := range strings.Split(names, ",") {
				if n = strings.TrimSpace(n); n != "" {
					ig.analyzers = append(ig.analyzers, n)
				}
			}
			switch {
			case len(ig.analyzers) == 0:
				ig.problem = "names no analyzer"
			case !hasReason || ig.reason == "":
				ig.problem = "gives no reason"
			}
			for _, n := range ig.analyzers {
				if !knownAnalyzer(n) {
					ig.problem = fmt.Sprintf("names the unknown analyzer %q", n)
				}
			}
			out = append(out, ig)
		}
	}
	return out
}

// ruleNames are the analyzers a suppression may name, filled in init from
// Analyzers (a variable initialiser would be an initialisation cycle).
var ruleNames []string

func init() {
	for _, a := range Analyzers() {
		if a.Name != IgnoreComments.Name {
			ruleNames = append(ruleNames, a.Name)
		}
	}
}

func knownAnalyzer(name string) bool {
	for _, n := range ruleNames {
		if n == name {
			return true
		}
	}
	return false
}

// isTestFile reports whether a file is a _test.go file. Tests are not the
// service: go vet analyses a package with its tests, the in-process checker
// without, and neither reports what a test does (a test's own listener),
// so the Dagger module's findings are the CLI's.
func isTestFile(name string) bool { return strings.HasSuffix(name, "_test.go") }

// reporter reports an analyzer's diagnostics, marking those a valid
// suppression comment covers.
type reporter struct {
	pass    *analysis.Pass
	ignores map[string][]ignore // by file name
}

func newReporter(pass *analysis.Pass) *reporter {
	r := &reporter{pass: pass, ignores: map[string][]ignore{}}
	for _, f := range pass.Files {
		for _, ig := range parseIgnores(pass.Fset, f) {
			r.ignores[ig.file] = append(r.ignores[ig.file], ig)
		}
	}
	return r
}

func (r *reporter) reportf(pos token.Pos, format string, args ...any) {
	d := analysis.Diagnostic{Pos: pos, Message: fmt.Sprintf(format, args...)}
	p := r.pass.Fset.Position(pos)
	if isTestFile(p.Filename) {
		return
	}
	for _, ig := range r.ignores[p.Filename] {
		if ig.problem != "" || (ig.line != p.Line && ig.line != p.Line-1) {
			continue
		}
		for _, n := range ig.analyzers {
			if n == r.pass.Analyzer.Name {
				d.Category = CategorySuppressed
				d.Related = []analysis.RelatedInformation{{Pos: ig.pos, Message: ig.reason}}
			}
		}
	}
	r.pass.Report(d)
}

// IgnoreComments reports malformed suppression comments: a suppression
// without a reason, or naming no or an unknown analyzer, suppresses nothing
// and is itself a finding, so a typo cannot hide or pretend to hide one.
var IgnoreComments = &analysis.Analyzer{
	Name: "lintignore",
	Doc:  "report //go-image:ignore comments without a reason or naming an unknown analyzer",
	Run: func(pass *analysis.Pass) (any, error) {
		if !inScope(pass) {
			return nil, nil
		}
		for _, f := range pass.Files {
			if isTestFile(pass.Fset.Position(f.Pos()).Filename) {
				continue
			}
			for _, ig := range parseIgnores(pass.Fset, f) {
				if ig.problem != "" {
					pass.Reportf(ig.pos, "this %s comment %s, so it suppresses nothing: write %s <analyzer>[,<analyzer>] -- <reason>, with one of %s", ignoreDirective, ig.problem, ignoreDirective, strings.Join(ruleNames, ", "))
				}
			}
		}
		return nil, nil
	},
}
