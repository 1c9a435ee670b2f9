package lint

import (
	"context"

	"dagger/go-image/internal/report"
)

// Runner runs the analyzers over a service's source with o's settings:
// in process over a directory (Local, the CLI), or as go vet
// -vettool=k8slint in the Dagger module's builder. Both hand back the
// findings, which Findings.Results and Findings.SARIF judge and render the
// same way.
type Runner interface {
	Lint(ctx context.Context, o Options) (Findings, error)
}

// Findings are one lint run's findings, with what judging them needs.
type Findings struct {
	// Dir is the module root the positions are shown relative to.
	Dir string
	// Packages is how many packages were analysed, -1 when the runner
	// cannot tell (go vet does not say).
	Packages int
	List     []Finding
}

// Results are the report's results for the findings under policy p: one
// per analyzer.
func (f Findings) Results(p Policy) []report.Result {
	return p.Results(f.Dir, f.Packages, Analyzers(), f.List)
}

// SARIF renders the findings as SARIF 2.1.0 under policy p, for code
// scanning.
func (f Findings) SARIF(p Policy) ([]byte, error) {
	return SARIF(f.Dir, Analyzers(), f.List, p)
}

// Local lints the Go module in Dir in process (RunBuild), its packages
// loaded under Build: the compile's configuration, in a release.
type Local struct {
	Dir   string
	Build Build
}

// Lint implements Runner.
func (l Local) Lint(ctx context.Context, o Options) (Findings, error) {
	fs, n, err := RunBuild(ctx, l.Dir, o, l.Build)
	return Findings{Dir: l.Dir, Packages: n, List: fs}, err
}
