package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"dagger/go-image/internal/imagefile"
)

// goImage runs the CLI in process and returns its exit code and output.
func goImage(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "service.tar")
	code, stdout, stderr := goImage(t, "build", "--source", "../../testdata/service", "--output", out, "--version", "0.1.0")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	img, err := imagefile.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if strings.TrimSpace(stdout) != d.String() {
		t.Errorf("stdout = %q, want the digest %s", stdout, d)
	}
	cf, _ := img.ConfigFile()
	if cf.Config.User != "65532:65532" {
		t.Errorf("user = %q", cf.Config.User)
	}
	if !strings.Contains(stderr, "compile . for linux/amd64") || !strings.Contains(stderr, "wrote "+out+" (service:0.1.0") {
		t.Errorf("progress missing from stderr:\n%s", stderr)
	}
}

func TestBuildErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.tar")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no command", nil, 2, "usage: go-image"},
		{"unknown command", []string{"bild"}, 2, `unknown command "bild"`},
		{"no output", []string{"build", "--source", "../../testdata/service"}, 2, "--output is required"},
		{"stray argument", []string{"build", "--output", out, "extra"}, 2, `unexpected argument "extra"`},
		{"unknown base", []string{"build", "--output", out, "--base", "ubuntu"}, 2, "unknown base image"},
		{"bad label", []string{"build", "--output", out, "--label", "novalue"}, 2, "want key=value"},
		{"bad flag", []string{"build", "--nope"}, 2, "flag provided but not defined"},
		{"no go.mod", []string{"build", "--source", t.TempDir(), "--output", out}, 1, "no go.mod"},
		{"compile error", []string{"build", "--source", "../../testdata/broken/compileerror", "--output", out}, 1, "go build failed"},
		{"unwritable output", []string{"build", "--source", "../../testdata/service", "--output", "/proc/go-image-test/x.tar"}, 1, "--output /proc/go-image-test/x.tar: directory /proc/go-image-test does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := goImage(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) {
				t.Fatalf("exit %d (want %d), stderr:\n%s\nwant it to contain %q", code, tt.wantCode, stderr, tt.wantErr)
			}
		})
	}
}

// --timings ends the output with how long each stage of the build took;
// without it, nothing of the kind is printed.
func TestBuildTimings(t *testing.T) {
	out := filepath.Join(t.TempDir(), "service.tar")
	code, _, stderr := goImage(t, "build", "--source", "../../testdata/service", "--output", out, "--timings")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	_, table, ok := strings.Cut(stderr, "go-image: timings: ")
	if !ok {
		t.Fatalf("no timings in stderr:\n%s", stderr)
	}
	for _, stage := range []string{"compile: go list (pre-flight)", "compile: go build", "assemble"} {
		if !strings.Contains(table, "  "+stage+"\n") {
			t.Errorf("timings lack %q:\n%s", stage, table)
		}
	}
	if _, _, stderr := goImage(t, "build", "--source", "../../testdata/service", "--output", out); strings.Contains(stderr, "timings") {
		t.Errorf("timings printed without --timings:\n%s", stderr)
	}
}
