// Package hostile generates the crafted images, layers and image tarballs
// that issue 14 used to attack go-image, one function per flaw, so that every
// package that reads images can test against the same corpus. Nothing is
// checked in: each case is built in memory, or written into a test's
// temporary directory, and is the same bytes on every run.
//
// Layers are uncompressed tar (media type
// application/vnd.oci.image.layer.v1.tar): their digest is their diff ID, and
// no case depends on gzip. Big cases (many files, a huge file) are generated
// while they are read, so a test of a bound never holds the input in memory.
//
// Each case's comment says what it attacks and what a safe reader does with
// it. The verdicts are asserted by the packages that read images
// (internal/imagefs, internal/imagefile, internal/size, …), not here.
package hostile

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Entry is one tar entry of a crafted layer, written exactly as given: the
// name is not cleaned, duplicates and any type flag are allowed.
type Entry struct {
	Name string
	// Type is the tar type flag; 0 means tar.TypeReg.
	Type byte
	// Mode is the permission and setuid/setgid/sticky bits; 0 means 0o644
	// (0o755 for a directory).
	Mode     int64
	UID, GID int
	// Linkname is the target of a symlink or a hard link.
	Linkname string
	Data     []byte
	// PAX are extended header records, such as an xattr
	// ("SCHILY.xattr.security.capability").
	PAX map[string]string
}

// Dir, File, Symlink, Hardlink and Whiteout are shorthands for the usual
// entries.
func Dir(name string, mode int64) Entry { return Entry{Name: name, Type: tar.TypeDir, Mode: mode} }

// File is a regular file.
func File(name string, mode int64, data string) Entry {
	return Entry{Name: name, Mode: mode, Data: []byte(data)}
}

// Symlink is a symbolic link to target.
func Symlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeSymlink, Mode: 0o777, Linkname: target}
}

// Hardlink is a hard link to target, stored with the given mode as a
// link's header carries its file's mode.
func Hardlink(name, target string, mode int64) Entry {
	return Entry{Name: name, Type: tar.TypeLink, Mode: mode, Linkname: target}
}

// Whiteout deletes name of a lower layer (OCI image spec, layer.md).
func Whiteout(dir, name string) Entry {
	return Entry{Name: dir + "/.wh." + name, Mode: 0o644}
}

// Opaque hides everything lower layers hold under dir.
func Opaque(dir string) Entry { return Entry{Name: dir + "/.wh..wh..opq", Mode: 0o644} }

// epoch is every entry's mtime: the corpus is the same bytes on every run.
var epoch = time.Unix(0, 0).UTC()

func (e Entry) header() *tar.Header {
	if e.Type == tar.TypeXGlobalHeader {
		// Archive-wide metadata (git archive writes one): records only.
		return &tar.Header{Name: e.Name, Typeflag: e.Type, PAXRecords: map[string]string{"comment": "hostile"}, Format: tar.FormatPAX}
	}
	h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Uid: e.UID, Gid: e.GID,
		Linkname: e.Linkname, ModTime: epoch, Format: tar.FormatPAX, PAXRecords: e.PAX}
	if h.Typeflag == 0 {
		h.Typeflag = tar.TypeReg
	}
	if h.Mode == 0 {
		h.Mode = 0o644
		if h.Typeflag == tar.TypeDir {
			h.Mode = 0o755
		}
	}
	if h.Typeflag == tar.TypeReg {
		h.Size = int64(len(e.Data))
	}
	return h
}

// Tar is the uncompressed tar of entries, in order.
func Tar(entries ...Entry) []byte {
	var b bytes.Buffer
	if err := writeTar(&b, entries); err != nil {
		panic(err) // in-memory writes of valid headers cannot fail
	}
	return b.Bytes()
}

func writeTar(w io.Writer, entries []Entry) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := e.header()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.Data); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// Layer is an uncompressed layer holding entries, in order.
func Layer(entries ...Entry) v1.Layer {
	b := Tar(entries...)
	return &layer{gen: func(w io.Writer) error { _, err := w.Write(b); return err }}
}

// Generated is a layer whose tar gen writes each time the layer is read:
// the layer costs no memory whatever its size. gen must write the same
// bytes every time.
func Generated(gen func(w io.Writer) error) v1.Layer { return &layer{gen: gen} }

// layer is an uncompressed tar layer: Compressed and Uncompressed are the
// same bytes, and so Digest and DiffID are the same hash.
type layer struct {
	gen  func(w io.Writer) error
	once sync.Once
	hash v1.Hash
	size int64
	err  error
}

func (l *layer) measure() {
	l.once.Do(func() {
		h := sha256.New()
		c := &counter{w: h}
		if l.err = l.gen(c); l.err != nil {
			return
		}
		l.size = c.n
		l.hash = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	})
}

func (l *layer) Digest() (v1.Hash, error) { l.measure(); return l.hash, l.err }
func (l *layer) DiffID() (v1.Hash, error) { l.measure(); return l.hash, l.err }
func (l *layer) Size() (int64, error)     { l.measure(); return l.size, l.err }
func (l *layer) MediaType() (types.MediaType, error) {
	return types.OCIUncompressedLayer, nil
}
func (l *layer) Compressed() (io.ReadCloser, error) { return l.Uncompressed() }
func (l *layer) Uncompressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		// Batched: a pipe write per 512-byte tar header would cost more
		// than the reader under test.
		bw := bufio.NewWriterSize(pw, 64<<10)
		err := l.gen(bw)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ManyFiles is a layer of n empty regular files /many/00000000 … in one
// directory, generated while read: n = 500_000 (issue 14's case, 226 MB and
// 35 s before the entry limit) is 256 MB of tar and no memory.
func ManyFiles(n int) v1.Layer {
	return Generated(func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := tw.WriteHeader(Dir("many/", 0o755).header()); err != nil {
			return err
		}
		name := []byte("many/00000000")
		for i := 0; i < n; i++ {
			v := i
			for j := len(name) - 1; j >= len("many/"); j-- {
				name[j] = byte('0' + v%10)
				v /= 10
			}
			h := &tar.Header{Name: string(name), Typeflag: tar.TypeReg, Mode: 0o644, ModTime: epoch, Format: tar.FormatUSTAR}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		}
		return tw.Close()
	})
}

// LongNames is a layer of n empty regular files in one directory, each
// named with about size bytes (within PATH_MAX), generated while read:
// n = 200_000 (the entry limit) of 4000 bytes is 900 MB of tar that gzip
// packs into a few megabytes, and a reader that keeps every name held
// over a gigabyte (111 MiB for 20,000).
func LongNames(n, size int) v1.Layer {
	return Generated(func(w io.Writer) error {
		tw := tar.NewWriter(w)
		pad := strings.Repeat("x", max(size-len("long/")-8, 0))
		for i := 0; i < n; i++ {
			h := &tar.Header{Name: fmt.Sprintf("long/%08d%s", i, pad), Typeflag: tar.TypeReg, Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		}
		return tw.Close()
	})
}

// BigFile is a layer holding one regular file of size zero bytes at name,
// mode 0o755, generated while read.
func BigFile(name string, size int64) v1.Layer {
	return Generated(func(w io.Writer) error {
		tw := tar.NewWriter(w)
		h := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: size, ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		zero := make([]byte, 64<<10)
		for left := size; left > 0; {
			n := min(left, int64(len(zero)))
			if _, err := tw.Write(zero[:n]); err != nil {
				return err
			}
			left -= n
		}
		return tw.Close()
	})
}

// helper marks t as a helper when there is one.
func helper(t testing.TB) {
	if t != nil {
		t.Helper()
	}
}

// SparseLayer is a layer whose one entry, name, is a GNU sparse file of
// size bytes stored in one block: a reader of its contents gets size bytes
// (mostly zeros) out of 1.5 KB.
func SparseLayer(name string, size int64) v1.Layer {
	data := []byte("x")
	var b bytes.Buffer
	b.Write(sparseHeader(name, size, int64(len(data))))
	b.Write(data)
	b.Write(make([]byte, 512-len(data)+1024)) // padding, then the end-of-archive marker
	raw := b.Bytes()
	return &layer{gen: func(w io.Writer) error { _, err := w.Write(raw); return err }}
}
