package lint

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/go/analysis"
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
	dir := t.TempDir()
	for name, data := range map[string]string{
		"go.mod":  "module example.com/hostile\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() {}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkgs, err := Load(context.Background(), dir, []string{"GOWORK=off", "GOFLAGS=-mod=mod"}, "./...")
	if err != nil {
		t.Fatal(err)
	}
	boom := protect(&analysis.Analyzer{Name: "boom", Doc: "panics on every package", Run: func(*analysis.Pass) (any, error) {
		var m map[string]int
		m["x"]++
		return nil, nil
	}})
	_, err = Analyze(pkgs, boom)
	for _, want := range []string{"boom on example.com/hostile: the boom analyzer crashed on package example.com/hostile", "assignment to entry in nil map", "protect_test.go:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Analyze with a panicking analyzer: %v, want an error containing %q", err, want)
		}
	}
}
