package smoke

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"dagger/go-image/internal/imagefs"
)

// entry is one tar entry of a hostile test layer.
type entry struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
	data     string
	link     string // symlink or hard link target
}

func reg(name, data string) entry {
	return entry{name: name, typ: tar.TypeReg, mode: 0o644, data: data}
}
func dir(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func sym(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}
func hard(name, target string) entry {
	return entry{name: name, typ: tar.TypeLink, mode: 0o644, link: target, uid: 4242, gid: 4242}
}

func layer(t *testing.T, es ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid, Linkname: e.link, Size: int64(len(e.data)), Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := io.WriteString(tw, e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// withLayers appends one layer per entry list to base.
func withLayers(t *testing.T, base v1.Image, layers ...[]entry) v1.Image {
	t.Helper()
	img := base
	for _, es := range layers {
		var err error
		if img, err = mutate.AppendLayers(img, layer(t, es...)); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// fileState is what a host file looks like: any change by an extraction
// shows.
type fileState struct {
	Mode     fs.FileMode
	UID, GID uint32
	Data     string
	Nlink    uint64
}

// sentinel is a host directory holding a victim file, with its state.
type sentinel struct {
	dir   string
	state map[string]fileState
}

func newSentinel(t *testing.T) *sentinel {
	t.Helper()
	dir, err := os.MkdirTemp("", "go-image-sentinel-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "victim"), []byte("host file"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &sentinel{dir: dir}
	s.state = s.snapshot(t)
	return s
}

func (s *sentinel) snapshot(t *testing.T) map[string]fileState {
	t.Helper()
	m := map[string]fileState{}
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fs := fileState{Mode: fi.Mode(), UID: st.Uid, GID: st.Gid, Nlink: uint64(st.Nlink)}
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			fs.Data = string(b)
		}
		m[p] = fs
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// untouched fails the test if anything in the sentinel changed.
func (s *sentinel) untouched(t *testing.T) {
	t.Helper()
	if got := s.snapshot(t); !reflect.DeepEqual(got, s.state) {
		t.Errorf("the host directory %s changed:\nbefore %v\nafter  %v", s.dir, s.state, got)
	}
}

// TestExtractStaysInside: layers crafted to write, re-own or link outside
// the root filesystem through its links leave the host untouched, and land
// where a container runtime would put them: inside.
func TestExtractStaysInside(t *testing.T) {
	s := newSentinel(t)
	out := s.dir // an absolute host path, as an attacker would name it
	rel := strings.Repeat("../", 12) + strings.TrimPrefix(out, "/")
	tests := []struct {
		name   string
		layers [][]entry
		// inside are files that must exist in the root filesystem.
		inside []string
		// err, if set, must be in extract's error.
		err string
	}{
		{"absolute symlink to a host dir", [][]entry{{sym("s", out), reg("s/pwned", "x")}}, []string{out + "/pwned"}, ""},
		{"relative symlink climbing out", [][]entry{{sym("s", rel), reg("s/pwned", "x")}}, []string{out + "/pwned"}, ""},
		{"symlink chain", [][]entry{{sym("a", "b"), sym("b", out), reg("a/pwned", "x")}}, []string{out + "/pwned"}, ""},
		{"symlink in a lower layer", [][]entry{{sym("s", out)}, {reg("s/pwned", "x")}}, []string{out + "/pwned"}, ""},
		{"dotdot in the entry name", [][]entry{{reg("../../../../pwned", "x")}}, []string{"/pwned"}, ""},
		{"hard link re-owning a host file", [][]entry{{sym("s", out), hard("h", "s/victim")}}, nil, "not in the image"},
		{"hard link climbing out", [][]entry{{hard("h", rel+"/victim")}}, nil, "not in the image"},
		{"hard link to an absolute host path", [][]entry{{hard("h", out+"/victim")}}, nil, "not in the image"},
		{"directory entry over a symlink", [][]entry{{sym("s", out)}, {entry{name: "s", typ: tar.TypeDir, mode: 0o777}}}, []string{"/s"}, ""},
		{"file entry over a symlink", [][]entry{{sym("s", out+"/victim")}, {reg("s", "x")}}, []string{"/s"}, ""},
		{"symlink loop", [][]entry{{sym("a", "b"), sym("b", "a"), reg("a/x", "x")}}, nil, "too many levels of symbolic links"},
	}
	for _, tt := range tests {
		keep := func(uid, gid int) (int, int) { return uid, gid }
		// Every entry, in layer order, as a runtime applies them: the
		// image reader may pass any of these.
		t.Run(tt.name+"/entries", func(t *testing.T) {
			root := rootDir(t)
			err := extractFrom(root, keep, func(fn func(imagefs.Entry, io.Reader) error) error {
				for _, es := range tt.layers {
					for _, e := range es {
						m := fs.FileMode(e.mode).Perm()
						if e.mode&0o4000 != 0 {
							m |= fs.ModeSetuid
						}
						ie := imagefs.Entry{Path: "/" + e.name, Type: e.typ, Mode: m, UID: e.uid, GID: e.gid, Size: int64(len(e.data)), Linkname: e.link}
						if err := fn(ie, strings.NewReader(e.data)); err != nil {
							return err
						}
					}
				}
				return nil
			})
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("extract: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("extract = %v, want an error saying %q", err, tt.err)
			}
			for _, p := range tt.inside {
				if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
					t.Errorf("%s is not inside the root filesystem: %v", p, err)
				}
			}
			s.untouched(t)
		})
		// The same layers in an image, through the image reader.
		t.Run(tt.name+"/image", func(t *testing.T) {
			img := withLayers(t, empty.Image, tt.layers...)
			err := extract(context.Background(), img, rootDir(t), keep)
			t.Logf("extract: %v", err)
			s.untouched(t)
		})
	}
}

func rootDir(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestExtractAppliesLikeARuntime: what lands inside, and how.
func TestExtractAppliesLikeARuntime(t *testing.T) {
	img := withLayers(t, empty.Image,
		[]entry{{name: "bin/su", typ: tar.TypeReg, mode: 0o4755, data: "su"}, reg("etc/a", "lower"), dir("etc/d"),
			{name: "ro", typ: tar.TypeDir, mode: 0o555}, reg("ro/f", "in a read-only directory")},
		// An upper layer's hard link to a lower layer's file (with the
		// file's own owner and mode: the image reader refuses a link whose
		// header disagrees, image/hardlink-metadata), a replaced file.
		[]entry{{name: "etc/b", typ: tar.TypeLink, mode: 0o644, link: "etc/a"}, reg("etc/d", "file replaces dir")},
	)
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := extract(context.Background(), img, root, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "bin/su"))
	if err != nil || fi.Mode() != 0o755 {
		t.Errorf("bin/su mode %v (%v), want 0755: setuid is dropped", fi.Mode(), err)
	}
	a, _ := os.Stat(filepath.Join(root, "etc/a"))
	b, err := os.Stat(filepath.Join(root, "etc/b"))
	if err != nil || !os.SameFile(a, b) {
		t.Errorf("etc/b is not a hard link to etc/a: %v", err)
	}
	if d, err := os.ReadFile(filepath.Join(root, "etc/d")); err != nil || string(d) != "file replaces dir" {
		t.Errorf("etc/d = %q %v, want the upper layer's file", d, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "ro")); err != nil || fi.Mode().Perm() != 0o555 {
		t.Errorf("ro: %v %v, want mode 0555 applied after its children", fi.Mode(), err)
	}
	removeTree(filepath.Dir(root))
	if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removeTree left %s: %v", root, err)
	}
}

func TestExtractBoundsSize(t *testing.T) {
	defer func(n int64) { maxRootfsBytes = n }(maxRootfsBytes)
	maxRootfsBytes = 10
	img := withLayers(t, empty.Image, []entry{reg("a", "123456"), reg("b", "123456")})
	err := extract(context.Background(), img, t.TempDir(), nil)
	if !errors.Is(err, ErrRootfsTooLarge) {
		t.Errorf("extract = %v, want ErrRootfsTooLarge", err)
	}
}

// TestIdentity: the service never runs as root; names resolve in the
// image's own files, never the host's, even through links that point out.
func TestIdentity(t *testing.T) {
	img := withLayers(t, empty.Image, []entry{
		reg("etc/passwd", "root:x:0:0::/root:/bin/sh\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\napp:x:1000:1001::/app:/bin/sh\ntoor:x:0:0::/:/bin/sh\n 0:x:0:0::/:/bin/sh\n"),
		reg("etc/group", "root:x:0:\nnonroot:x:65532:\nstaff:x:50:\n"),
	})
	// Links that would read the host's /etc/passwd, which has root.
	loop := withLayers(t, empty.Image, []entry{sym("etc", "/etc")})
	hostProc := withLayers(t, empty.Image, []entry{dir("etc"), sym("etc/passwd", "/proc/self/root/etc/passwd")})
	tests := []struct {
		img      v1.Image
		user     string
		uid, gid uint32
		note     bool
		err      string
	}{
		{img, "", 65532, 65532, true, ""},
		{img, "root", 65532, 65532, true, ""},
		{img, "0:0", 65532, 65532, true, ""},
		{img, "nonroot", 65532, 65532, false, ""},
		{img, "app", 1000, 1001, false, ""},
		{img, "app:staff", 1000, 50, false, ""},
		{img, "1000", 1000, 1001, false, ""},
		{img, "4000", 4000, 4000, false, ""},
		{img, "nobody", 0, 0, false, "no such entry"},
		// Hostile spellings of root: each runs as 65532, or is refused.
		{img, "toor", 65532, 65532, true, ""},    // another name for uid 0
		{img, " 0", 65532, 65532, true, ""},      // a name with a space, mapped to uid 0
		{img, "+0", 65532, 65532, true, ""},      // a sign
		{img, "00", 65532, 65532, true, ""},      // a leading zero
		{img, "0:65532", 65532, 65532, true, ""}, // root with a non-root group
		{img, "-1", 0, 0, false, "out of range"},
		{img, "4294967295", 0, 0, false, "out of range"}, // (uid_t)-1
		{img, "65532:nogroup", 0, 0, false, "no such entry"},
		// A non-root uid keeps the group it names, 0 included, as a
		// runtime gives it (the process runner maps it to an unprivileged
		// host gid).
		{img, "65532:0", 65532, 0, false, ""},
		{loop, "root", 0, 0, false, "too many levels of symbolic links"},
		{hostProc, "root", 0, 0, false, "no such file"},
	}
	for _, tt := range tests {
		root := t.TempDir()
		if err := extract(context.Background(), tt.img, root, nil); err != nil {
			t.Fatal(err)
		}
		tr, err := openTree(root)
		if err != nil {
			t.Fatal(err)
		}
		uid, gid, note, err := identity(tr, tt.user)
		tr.Close()
		// The Dagger runner reads the image without extracting it: the
		// same user, or an error, for every case.
		iuid, igid, inote, ierr := ImageIdentity(context.Background(), tt.img, tt.user)
		if (ierr != nil) != (tt.err != "") || iuid != uid || igid != gid || inote != note {
			t.Errorf("USER %q: ImageIdentity = %d:%d %q %v, extracted = %d:%d %q %v", tt.user, iuid, igid, inote, ierr, uid, gid, note, err)
		}
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || (tt.user != "root" && !strings.Contains(err.Error(), "numeric USER")) {
				t.Errorf("USER %q: err = %v, want %q", tt.user, err, tt.err)
			}
			continue
		}
		if err != nil || uid != tt.uid || gid != tt.gid || (note != "") != tt.note {
			t.Errorf("USER %q = %d:%d note %q err %v, want %d:%d note=%v", tt.user, uid, gid, note, err, tt.uid, tt.gid, tt.note)
		}
	}
}
