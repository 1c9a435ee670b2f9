package imagefile

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func testImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestRoundTrip(t *testing.T) {
	img := testImage(t)
	want, _ := img.Digest()
	dir := t.TempDir()

	dockerTar := filepath.Join(dir, "docker.tar")
	if err := Write(dockerTar, "svc:1.0", img); err != nil {
		t.Fatal(err)
	}
	ociDir := filepath.Join(dir, "oci")
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	ociTar := filepath.Join(dir, "oci.tar")
	tarDir(t, ociDir, ociTar)

	// The manifest.json half is what `docker load` and older crane read.
	t.Run("manifest.json half", func(t *testing.T) {
		viaDocker, err := tarball.ImageFromPath(dockerTar, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantCfg, _ := img.ConfigName()
		gotCfg, _ := viaDocker.ConfigName()
		wl, _ := img.Layers()
		gl, err := viaDocker.Layers()
		if err != nil || gotCfg != wantCfg || len(gl) != len(wl) {
			t.Fatalf("config %s layers %d (%v), want %s and %d", gotCfg, len(gl), err, wantCfg, len(wl))
		}
		for i := range wl {
			a, _ := wl[i].DiffID()
			b, _ := gl[i].DiffID()
			if a != b {
				t.Errorf("layer %d diffid %s, want %s", i, b, a)
			}
		}
	})
	for name, path := range map[string]string{"written tarball": dockerTar, "OCI layout dir": ociDir, "OCI layout tar": ociTar} {
		t.Run(name, func(t *testing.T) {
			got, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := got.Digest()
			if d != want {
				t.Errorf("digest = %s, want %s", d, want)
			}
			// Reads every blob back and checks it against its digest.
			if err := validate.Image(got); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	notTar := filepath.Join(dir, "x.txt")
	os.WriteFile(notTar, []byte("hello, not an archive at all"), 0o644)
	plainTar := filepath.Join(dir, "plain.tar")
	plain := t.TempDir()
	os.WriteFile(filepath.Join(plain, "README"), []byte("hi"), 0o644)
	tarDir(t, plain, plainTar)
	twoDir := filepath.Join(dir, "two")
	p, _ := layout.Write(twoDir, empty.Index)
	p.AppendImage(testImage(t))
	p.AppendImage(mutate.MediaType(testImage(t), "application/vnd.oci.image.manifest.v1+json"))

	tests := []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "nope.tar"), "no such file"},
		{"not a tar", notTar, "not a tar archive"},
		{"tar without image", plainTar, "neither index.json nor manifest.json"},
		{"layout with two images", twoDir, "want exactly one image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("unwritable output", func(t *testing.T) {
		err := Write(filepath.Join(dir, "no", "such", "dir", "x.tar"), "svc:1", testImage(t))
		if err == nil || !strings.Contains(err.Error(), "writable") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad tag", func(t *testing.T) {
		err := Write(filepath.Join(dir, "x.tar"), "UPPER CASE:tag", testImage(t))
		if err == nil || !strings.Contains(err.Error(), "image tag") {
			t.Fatalf("err = %v", err)
		}
		if _, statErr := os.Stat(filepath.Join(dir, "x.tar")); statErr == nil {
			t.Error("a failed write left a file behind")
		}
	})
}

// tarDir packs dir into a tar file at dst.
func tarDir(t *testing.T, dir, dst string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hdr, _ := tar.FileInfoHeader(info, "")
		hdr.Name = rel
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
