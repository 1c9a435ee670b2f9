package compile_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/mains"
	"dagger/go-image/internal/recipe"
)

// TestGoRunsNoHookOfTheSource runs every go command line go-image runs on
// a source (the pre-flight's go list, the builder's, the main-package
// listing, go build) on a module whose .git/config names an fsmonitor
// program: the go command's VCS stamping would run git status there, and
// git the program, as go-image's user next to the release's secrets. None
// may run it.
func TestGoRunsNoHookOfTheSource(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	marker := filepath.Join(t.TempDir(), "hook-ran")
	src := hostile.GitHookSource(t, marker)
	o, err := recipe.Options{Main: ".", Name: "hooked"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		name string
		run  func() error
	}{
		{"pre-flight (CheckMain)", func() error { return compile.CheckMain(ctx, src, o) }},
		{"main packages (mains.ListArgs)", func() error { _, err := compile.List(ctx, src, mains.ListArgs([]string{"."})); return err }},
		{"builder pre-flight (CheckArgs)", func() error { _, err := compile.List(ctx, src, compile.CheckArgs(o.Main)); return err }},
		{"lint (lint.Load, no build flags)", func() error { _, err := lint.Load(ctx, src, nil, "./..."); return err }},
		{"compile (Build)", func() error { return compile.Build(ctx, src, o, filepath.Join(t.TempDir(), "hooked")) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(marker); err == nil {
				os.Remove(marker)
				t.Fatalf("the source's .git/config ran a program (core.fsmonitor): go must run with -buildvcs=false")
			}
		})
	}
}
