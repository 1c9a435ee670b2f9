package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"dagger/go-image/internal/choices"
)

// Path flags are absolute once parsed: Trivy runs in a temporary
// directory, where a relative --trivy (or cache, ignore file) would name
// another file. Before the fix, `scan --trivy bin/trivy` failed to start it.
func TestPathFlagsAreAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	fs := newFlagSet("test", io.Discard)
	var c choices.Choices
	b := newBinder(fs, &c)
	sf := addScanFlags(b)
	sg := addSignFlags(fs)
	err := parse(fs, []string{"--trivy", "bin/trivy", "--cache-dir", "../cache", "--ignorefile", ".trivyignore", "--sign-key", "cosign.key"})
	if err == nil {
		err = b.apply()
	}
	if err != nil {
		t.Fatal(err)
	}
	// The temp dir may sit behind a symlink: compare with what Abs gives.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for flag, tc := range map[string]struct{ got, want string }{
		"--trivy":      {sf.trivy, filepath.Join(wd, "bin/trivy")},
		"--cache-dir":  {sf.cacheDir, filepath.Join(filepath.Dir(wd), "cache")},
		"--ignorefile": {*c.Gates.Scan.IgnoreFile, filepath.Join(wd, ".trivyignore")},
		"--sign-key":   {sg.keyFile, filepath.Join(wd, "cosign.key")},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", flag, tc.got, tc.want)
		}
	}

	// Defaults and an explicit empty value stay as they are.
	fs = newFlagSet("test", io.Discard)
	c = choices.Choices{}
	b = newBinder(fs, &c)
	sf = addScanFlags(b)
	if err := parse(fs, []string{"--ignorefile", ""}); err != nil {
		t.Fatal(err)
	}
	if err := b.apply(); err != nil {
		t.Fatal(err)
	}
	if *c.Gates.Scan.IgnoreFile != "" || sf.trivy != "" || !filepath.IsAbs(sf.cacheDir) {
		t.Errorf("defaults changed: %q, %+v", *c.Gates.Scan.IgnoreFile, sf)
	}
}

// A relative --trivy reaches a runnable binary: trivy.Find makes the path
// absolute too (for $GOIMAGE_TRIVY), and the scan gets past finding it.
func TestRelativeTrivyIsFound(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll("bin", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("bin/trivy", []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	fs := newFlagSet("test", io.Discard)
	sf := addScanFlags(newBinder(fs, &choices.Choices{}))
	if err := parse(fs, []string{"--trivy", "bin/trivy"}); err != nil {
		t.Fatal(err)
	}
	r, err := sf.runner(false, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(r.Binary) {
		t.Fatalf("runner binary %q is relative", r.Binary)
	}
	t.Chdir(t.TempDir()) // as Trivy's working directory
	if _, err := os.Stat(r.Binary); err != nil {
		t.Fatalf("the binary is not reachable from another directory: %v", err)
	}
}
