package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEngineBadInputs: each bad input fails with a message naming the cause.
func TestEngineBadInputs(t *testing.T) {
	t.Parallel()
	noMod := t.TempDir()
	if err := os.WriteFile(filepath.Join(noMod, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	newGo := t.TempDir()
	for f, data := range map[string]string{
		"go.mod":  "module example.com/newgo\n\ngo 1.27\n",
		"main.go": "package main\n\nfunc main() {}\n",
	} {
		if err := os.WriteFile(filepath.Join(newGo, f), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		says []string
	}{
		{"cgo", []string{"--source=./testdata/broken/cgo", "binary"}, []string{"uses cgo"}},
		{"no main package", []string{"--source=./testdata/broken/nomain", "binary"}, []string{"not main"}},
		{"compile error", []string{"--source=./testdata/broken/compileerror", "binary"}, []string{`cannot use "not an int"`}},
		{"no go.mod", []string{"--source=" + noMod, "binary"}, []string{"no go.mod"}},
		{"unknown base", []string{"--source=./testdata/service", "--base=distroless", "tarball"}, []string{`base "distroless"`, "scratch", "alpine"}},
		{"bad platform", []string{"--source=./testdata/service", "--platform=linux/sparc", "tarball"}, []string{"sparc"}},
		{"base image on scratch", []string{"--source=./testdata/service", "--base-image=alpine:3.22", "tarball"}, []string{"use base alpine"}},
		// go 1.27 asks for golang:1.27-alpine, which the mirror does not
		// serve: the build fails rather than compile with 1.26.
		{"go version from go.mod", []string{"--source=" + newGo, "binary"}, []string{"golang:1.27-alpine"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantFail(t, call(t, tc.args...), tc.says...)
		})
	}
}
