package lint

import (
	"fmt"
	"runtime/debug"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// The in-process checker runs each analyzer on each package in a goroutine
// of its own, where gates.Protect, which guards the lint gate's goroutine,
// cannot catch a panic: an analyzer that panics on a hostile package would
// end go-image before any report is written. Every analyzer's Run is
// guarded at start-up instead, so a panic is that analyzer's error on that
// package, and the lint gate fails with it.

// protectedAnalyzers are the analyzers whose Run protect has guarded.
var protectedAnalyzers = map[*analysis.Analyzer]bool{}

func init() {
	for _, a := range Analyzers() {
		protect(a)
	}
}

// protect guards a's Run, once, and returns a.
func protect(a *analysis.Analyzer) *analysis.Analyzer {
	if protectedAnalyzers[a] {
		return a
	}
	protectedAnalyzers[a] = true
	run := a.Run
	a.Run = func(pass *analysis.Pass) (res any, err error) {
		defer func() {
			if p := recover(); p != nil {
				res, err = nil, fmt.Errorf("the %s analyzer crashed on package %s (panic: %v, at %s): the source holds code it does not handle, and the lint fails rather than pass unchecked; please report this with the package",
					a.Name, pass.Pkg.Path(), p, panicSite(debug.Stack()))
			}
		}()
		return run(pass)
	}
	return a
}

// panicSite is the file and line of the frame that panicked: the first
// frame below runtime's panic in the stack.
func panicSite(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			for _, l := range lines[i+1:] {
				if t := strings.TrimSpace(l); strings.HasPrefix(t, "/") || strings.Contains(t, ".go:") {
					if !strings.Contains(t, "/runtime/") {
						t, _, _ = strings.Cut(t, " +0x")
						return t
					}
				}
			}
		}
	}
	return "an unknown place"
}
