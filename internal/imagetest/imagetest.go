// Package imagetest builds the images that go-image's tests check: the
// compliant image of testdata/service, and small variations on it, all in
// memory and without a network or a container engine.
//
// The service binary is compiled once per test binary (per variant) and
// shared by every test in the package; the first call pays a go build.
package imagetest

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"dagger/go-image/internal/assemble"
	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/recipe"
)

// ServicePath is where Compliant puts the service binary (its entrypoint).
const ServicePath = recipe.BinDir + "/service"

// Variant selects how testdata/service is compiled.
type Variant int

const (
	// Recipe is the recipe's own build: static, stripped, -trimpath,
	// CGO_ENABLED=0. It passes every hardening check.
	Recipe Variant = iota
	// Unstripped keeps the symbol table and DWARF (no -s -w).
	Unstripped
	// NoTrimpath leaves the builder's file system paths in the binary.
	NoTrimpath
	// Cgo is built with CGO_ENABLED=1: the net package then links libc
	// dynamically. It needs a C compiler; Service skips the test without one.
	Cgo
)

// File is one entry of a test layer. Mode may carry setuid (0o4000),
// setgid (0o2000) and sticky (0o1000) bits. A Path whose base starts with
// ".wh." is an OCI whiteout, as in any layer.
type File struct {
	Path    string
	Mode    int64
	UID     int
	GID     int
	Data    []byte
	Dir     bool
	Symlink string // target; makes the entry a symlink
}

// Options are the recipe options Compliant builds with.
func Options() recipe.Options {
	o, err := recipe.Options{Main: ".", Name: "service"}.Normalize()
	if err != nil {
		panic(err) // a constant input: only a recipe bug gets here
	}
	return o
}

// Compliant is the image go-image builds for testdata/service on scratch: it
// passes every gate with default options.
func Compliant(t testing.TB) v1.Image {
	t.Helper()
	o := Options()
	o.Platform = "linux/" + runtime.GOARCH
	img, err := assemble.Image(assemble.Base{}, o, Service(t, Recipe))
	if err != nil {
		t.Fatalf("assemble compliant image: %v", err)
	}
	return img
}

// Append returns img with one more layer holding files, in order.
func Append(t testing.TB, img v1.Image, files ...File) v1.Image {
	t.Helper()
	out, err := mutate.Append(img, mutate.Addendum{
		Layer:     Layer(t, files...),
		History:   v1.History{CreatedBy: "imagetest: " + paths(files), Created: v1.Time{Time: time.Unix(0, 0).UTC()}},
		MediaType: types.OCILayer,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Config returns img with its config changed by edit.
func Config(t testing.TB, img v1.Image, edit func(*v1.Config)) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	edit(&cf.Config)
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Layer packs files into an uncompressed-on-disk, gzip-on-the-wire layer.
func Layer(t testing.TB, files ...File) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: strings.TrimPrefix(f.Path, "/"), Mode: f.Mode, Uid: f.UID, Gid: f.GID,
			ModTime: time.Unix(0, 0), Format: tar.FormatPAX, Typeflag: tar.TypeReg, Size: int64(len(f.Data))}
		switch {
		case f.Dir:
			h.Typeflag, h.Size, h.Name = tar.TypeDir, 0, h.Name+"/"
		case f.Symlink != "":
			h.Typeflag, h.Size, h.Linkname = tar.TypeSymlink, 0, f.Symlink
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func paths(files []File) string {
	ps := make([]string, len(files))
	for i, f := range files {
		ps[i] = f.Path
	}
	return strings.Join(ps, ", ")
}

// built caches compiled binaries for the life of the test binary: compiling
// is the slow part of every gate test, and the output never changes.
var built struct {
	sync.Mutex
	bins map[Variant][]byte
	errs map[Variant]error
}

// Service returns testdata/service compiled for linux/GOARCH as v says,
// once per test binary.
func Service(t testing.TB, v Variant) []byte {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if built.bins == nil {
		built.bins, built.errs = map[Variant][]byte{}, map[Variant]error{}
	}
	if b, ok := built.bins[v]; ok {
		return b
	}
	if v == Cgo {
		if _, err := exec.LookPath("gcc"); err != nil {
			t.Skip("SKIP: no gcc on PATH, so no CGO_ENABLED=1 build of testdata/service: the cgo case is untested here (apt-get install gcc)")
		}
	}
	if err, ok := built.errs[v]; ok {
		t.Fatalf("compile testdata/service (variant %d): %v", v, err)
	}
	b, err := compileService(v)
	if err != nil {
		built.errs[v] = err
		t.Fatalf("compile testdata/service (variant %d): %v", v, err)
	}
	built.bins[v] = b
	return b
}

// ServiceDir is the absolute path of testdata/service.
func ServiceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "service")
}

func compileService(v Variant) ([]byte, error) {
	dir, err := os.MkdirTemp("", "imagetest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "service")
	o := Options()
	o.Platform = "linux/" + runtime.GOARCH
	if v == Recipe {
		if err := compile.Build(context.Background(), ServiceDir(), o, out); err != nil {
			return nil, err
		}
		return os.ReadFile(out)
	}
	c := o.Compile(out)
	args := c.Args[:0:0]
	for _, a := range c.Args {
		switch {
		case v == Unstripped && strings.HasPrefix(a, "-ldflags="):
			continue
		case v == NoTrimpath && a == "-trimpath":
			continue
		}
		args = append(args, a)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = ServiceDir()
	cmd.Env = append(os.Environ(), c.Env...)
	if v == Cgo {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=1")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, &buildError{err: err, out: string(b)}
	}
	return os.ReadFile(out)
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }
