package lint

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/go/analysis"

	"dagger/go-image/internal/hostile"
)

// Every analyzer go-image runs is guarded: a new one that is not would
// crash go-image on the first package it panics on.
func TestAnalyzersProtected(t *testing.T) {
	for _, a := range Analyzers() {
		if !protectedAnalyzers[a] {
			t.Errorf("analyzer %s is not guarded by protect", a.Name)
		}
	}
}

// An analyzer that panics on a package, in the checker's own goroutine,
// is that analyzer's error: Analyze returns it, naming the analyzer, the
// package and the panic, and the process goes on (before protect, the
// test binary died).
func TestAnalyzePanicIsAnError(t *testing.T) {
	pkgs, err := Load(context.Background(), hostile.Source(t, nil), []string{"GOWORK=off", "GOFLAGS=-mod=mod"}, "./...")
	if err != nil {
		t.Fatal(err)
	}
	boom := protect(&analysis.Analyzer{Name: "boom", Doc: "panics on every package", Run: func(*analysis.Pass) (any, error) {
		var m map[string]int
		m["x"]++
		return nil, nil
	}})
	_, err = Analyze(pkgs, boom)
	for _, want := range []string{"boom on example.com/svc: the boom analyzer crashed on package example.com/svc", "assignment to entry in nil map", "protect_test.go:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Analyze with a panicking analyzer: %v, want an error containing %q", err, want)
		}
	}
}

// TestAnalyzeCallChainIsLinear: facts flow from callee to caller until
// nothing changes. Rounds over every function took a round per link of a
// call chain: a hostile package of 3,000 functions calling each other in a
// line took 12 s, 30,000 would take 20 minutes. Each function is now
// stepped again only when a function it calls changed.
func TestAnalyzeCallChainIsLinear(t *testing.T) {
	const n = 3000
	var b strings.Builder
	b.WriteString("package main\n\nimport (\n\t\"context\"\n\t\"net/http\"\n)\n\n")
	for i := range n {
		fmt.Fprintf(&b, "func f%d(s *http.Server, ctx context.Context) { f%d(s, ctx) }\n", i, i+1)
	}
	fmt.Fprintf(&b, "func f%d(s *http.Server, ctx context.Context) { s.Shutdown(ctx) }\n", n)
	b.WriteString("func main() {\n\ts := &http.Server{}\n\tgo s.ListenAndServe()\n\tf0(s, context.Background())\n}\n")
	dir := hostile.Source(t, map[string]hostile.SourceFile{"main.go": {Data: b.String()}})
	pkgs, err := Load(context.Background(), dir, []string{"GOWORK=off", "GOFLAGS=-mod=mod"}, "./...")
	if err != nil {
		t.Fatal(err)
	}
	before, start := propagateSteps.Load(), time.Now()
	fs, err := Analyze(pkgs, HTTPShutdown)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Analyze took %s on a chain of %d functions (rounds over every function took 12 s)", d, n)
	}
	if steps := propagateSteps.Load() - before; steps > 3*(n+2) {
		t.Errorf("%d steps for a chain of %d functions, want at most %d: linear, not a round per link", steps, n+2, 3*(n+2))
	}
	found := false
	for _, f := range fs {
		found = found || strings.Contains(f.Message, "f0 passes context.Background(), which has no deadline, on to http.Server.Shutdown")
	}
	if !found {
		t.Errorf("the chain's Shutdown without a deadline was not found at its head: %v", fs)
	}
}
