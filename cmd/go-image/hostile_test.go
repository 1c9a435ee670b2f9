package main

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/hostile"
)

// TestHostileTarballs: issue 14's crafted image tarballs, through the
// commands that read an image file. Each is refused with its named error,
// quickly, and scan never hands Trivy the file (the refusal comes before
// the missing DB would be noticed).
func TestHostileTarballs(t *testing.T) {
	trivyBin := filepath.Join(t.TempDir(), "trivy")
	if err := os.WriteFile(trivyBin, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	noDB := t.TempDir()
	tests := []struct {
		name, path string
		want       string
	}{
		{"sparse 1 GiB index.json", hostile.SparseIndex(t), "is a sparse file"},
		{"index naming itself", hostile.SelfNestedIndex(t), "the content's digest is"},
		{"index.json and manifest.json disagree", hostile.IndexManifestMismatch(t), "index.json and manifest.json name different images"},
		{"5 MB layer declared as 1 byte", hostile.LyingSize(t), "the content's size is 5002752 bytes, the image says 1 byte"},
		{"layer that is not its digest", hostile.LyingDigest(t), "the content's digest is"},
		{"path twice in a layer", hostile.WriteTarball(t, hostile.Members(t, hostile.DuplicatePaths(t))...), "[image/duplicate-path]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, args := range [][]string{
				{"scan", "--image", tt.path, "--trivy", trivyBin, "--cache-dir", noDB},
				{"check", "--image", tt.path},
			} {
				start := time.Now()
				code, stdout, stderr := goImage(t, args...)
				out := stdout + stderr
				if code != 1 || !strings.Contains(out, tt.want) || strings.Contains(out, "no Trivy vulnerability DB") {
					t.Errorf("%s: exit %d, want 1 and %q\nstdout:\n%s\nstderr:\n%s", args[0], code, tt.want, stdout, stderr)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("%s took %s", args[0], d)
				}
			}
		})
	}
}

// TestHostileBase: a hostile --base-image, pulled from a registry, is
// refused with the layer's named check (or, for its environment, the
// variable) before anything is built on it (the module's engine test
// TestEngineHostileBase expects the same).
func TestHostileBase(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		name string
		img  v1.Image
		says string
	}{
		{"duplicate", hostile.DuplicatePaths(t), "[image/duplicate-path]"},
		{"whiteout", hostile.SameLayerWhiteout(t), "[image/same-layer-whiteout]"},
		{"symlink", hostile.SymlinkEscape(t, "/tmp"), "[image/path-through-non-directory]"},
		{"env", hostile.BaseEnv(t, "amd64", "SSL_CERT_FILE=/usr/share/evil-ca.pem"), `sets SSL_CERT_FILE="/usr/share/evil-ca.pem"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := host + "/hostile/" + tc.name + ":1"
			r, err := name.ParseReference(ref)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(r, tc.img); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "x.tar")
			code, _, stderr := goImage(t, "build", "--source", "../../testdata/service", "--output", out, "--base", "alpine", "--base-image", ref)
			if code != 1 || !strings.Contains(stderr, tc.says) {
				t.Errorf("exit %d, want 1 and %q:\n%s", code, tc.says, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("an image was written")
			}
		})
	}
}
