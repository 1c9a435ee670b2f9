// Package imagefs reads an image's flattened filesystem: what a container
// started from the image sees, with every layer applied and whiteouts
// (deleted files, opaque directories) honoured by mutate.Extract. Gates read
// files only through here, so a file deleted by an upper layer is never
// reported and a file shadowed by an upper layer is judged by its top copy.
package imagefs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Entry is one file of the flattened filesystem.
type Entry struct {
	// Path is absolute and clean: "/usr/local/bin/app".
	Path string
	// Type is the tar type flag: tar.TypeReg, TypeDir, TypeSymlink, TypeLink…
	Type byte
	// Mode carries the permission bits and fs.ModeSetuid, ModeSetgid and
	// ModeSticky, as tar.FileInfoHeader would.
	Mode fs.FileMode
	UID  int
	GID  int
	// Size is the content length of a regular file, else 0.
	Size int64
	// Linkname is the target of a symlink or hard link, as stored.
	Linkname string
}

// Regular reports whether e holds file contents.
func (e Entry) Regular() bool { return e.Type == tar.TypeReg || e.Type == tar.TypeRegA }

// Dir reports whether e is a directory.
func (e Entry) Dir() bool { return e.Type == tar.TypeDir }

// Executable reports whether any execute bit is set.
func (e Entry) Executable() bool { return e.Mode.Perm()&0o111 != 0 }

func entryOf(h *tar.Header) Entry {
	p := "/" + strings.TrimPrefix(path.Clean("/"+h.Name), "/")
	e := Entry{Path: p, Type: h.Typeflag, Mode: h.FileInfo().Mode(), UID: h.Uid, GID: h.Gid, Linkname: h.Linkname}
	if e.Regular() {
		e.Size = h.Size
	}
	return e
}

// Walk calls fn for every entry of img's flattened filesystem, upper layers
// first. For a regular file r streams its contents; fn may leave it unread.
// Only one file is in memory at a time, whatever the image's size.
func Walk(ctx context.Context, img v1.Image, fn func(e Entry, r io.Reader) error) error {
	rc := mutate.Extract(img)
	// Closing stops Extract's writer goroutine if fn returns early.
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read image filesystem: %w", err)
		}
		e := entryOf(h)
		var r io.Reader = eofReader{}
		if e.Regular() {
			r = tr
		}
		if err := fn(e, r); err != nil {
			return err
		}
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// FS is an index of the flattened filesystem: every entry's metadata, and
// the contents of the few files a caller asked to keep.
type FS struct {
	img      v1.Image
	limit    int64
	entries  []Entry
	byPath   map[string]int
	contents map[string][]byte
}

// Read walks img once, indexing every entry and keeping the contents of the
// regular files for which keep returns true (nil keeps none), each up to
// limit bytes. A longer file is an error when its contents are asked for:
// a gate must not judge a file by a truncated copy.
func Read(ctx context.Context, img v1.Image, keep func(Entry) bool, limit int64) (*FS, error) {
	f := &FS{img: img, limit: limit, byPath: map[string]int{}, contents: map[string][]byte{}}
	err := Walk(ctx, img, func(e Entry, r io.Reader) error {
		f.byPath[e.Path] = len(f.entries)
		f.entries = append(f.entries, e)
		if keep == nil || !e.Regular() || e.Size > limit || !keep(e) {
			return nil
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("read %s: %w", e.Path, err)
		}
		f.contents[e.Path] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(f.entries, func(i, j int) bool { return f.entries[i].Path < f.entries[j].Path })
	for i, e := range f.entries {
		f.byPath[e.Path] = i
	}
	return f, nil
}

// Entries returns every entry, sorted by path.
func (f *FS) Entries() []Entry { return f.entries }

// Lookup returns the entry at p without following links.
func (f *FS) Lookup(p string) (Entry, bool) {
	i, ok := f.byPath[clean(p)]
	if !ok {
		return Entry{}, false
	}
	return f.entries[i], true
}

// ErrNotExist is wrapped by Resolve and ReadFile for a missing path.
var ErrNotExist = fs.ErrNotExist

// Resolve follows symlinks (in every path element) and hard links from p to
// the entry they end at, as the kernel would inside the container.
func (f *FS) Resolve(p string) (Entry, error) {
	cur := clean(p)
	for hops := 0; hops < 40; hops++ {
		next, e, err := f.step(cur)
		if err != nil {
			return Entry{}, err
		}
		if next == "" {
			return e, nil
		}
		cur = next
	}
	return Entry{}, fmt.Errorf("%s: too many levels of symbolic links", p)
}

// step resolves the first link found walking p's elements; it returns the
// rewritten path, or "" and the final entry when p has no links left.
func (f *FS) step(p string) (string, Entry, error) {
	elems := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i := range elems {
		prefix := "/" + strings.Join(elems[:i+1], "/")
		e, ok := f.Lookup(prefix)
		if !ok && i < len(elems)-1 {
			// Layers may leave parent directories implicit.
			continue
		}
		if !ok {
			return "", Entry{}, fmt.Errorf("%s: %w in the image", p, ErrNotExist)
		}
		rest := strings.Join(elems[i+1:], "/")
		switch e.Type {
		case tar.TypeSymlink:
			target := e.Linkname
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(prefix), target)
			}
			return clean(path.Join(target, rest)), Entry{}, nil
		case tar.TypeLink:
			return clean(path.Join("/"+e.Linkname, rest)), Entry{}, nil
		}
		if i == len(elems)-1 {
			return "", e, nil
		}
	}
	// p is "/": the root always exists even when no layer lists it.
	return "", Entry{Path: "/", Type: tar.TypeDir, Mode: fs.ModeDir | 0o755}, nil
}

// ReadFile returns the contents of the regular file at p after following
// links. Kept files come from memory; any other file costs one more walk of
// the image, which is fine for the one or two files a gate discovers late
// (such as a symlinked entrypoint's target).
func (f *FS) ReadFile(ctx context.Context, p string) ([]byte, error) {
	e, err := f.Resolve(p)
	if err != nil {
		return nil, err
	}
	if !e.Regular() {
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	if b, ok := f.contents[e.Path]; ok {
		return b, nil
	}
	if e.Size > f.limit {
		return nil, fmt.Errorf("%s: %d bytes, over the %d-byte read limit", p, e.Size, f.limit)
	}
	var out []byte
	found := errors.New("found")
	err = Walk(ctx, f.img, func(x Entry, r io.Reader) error {
		if x.Path != e.Path {
			return nil
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, r); err != nil {
			return fmt.Errorf("read %s: %w", x.Path, err)
		}
		out = buf.Bytes()
		return found
	})
	if errors.Is(err, found) {
		return out, nil
	}
	if err == nil {
		err = fmt.Errorf("%s: %w in the image", p, ErrNotExist)
	}
	return nil, err
}

func clean(p string) string { return path.Clean("/" + p) }
