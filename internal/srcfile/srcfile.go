// Package srcfile reads the files go-image itself reads from a source tree
// (go.mod, go-image.yaml, .trivyignore), which arrives with the code under
// review: its author chooses their size and their links. A file is opened
// through the source root, so a link out of it (go.mod -> /dev/zero, ->
// /proc/self/environ) is not followed; only a regular file is read (a FIFO
// would block forever, a device never ends); and no more than a bound.
package srcfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Bounds of the files go-image reads from a source. Kubernetes' go.mod is
// 12 KiB; a go.mod or an ignore file a thousand times that is not one.
const (
	MaxGoMod      = 4 << 20
	MaxIgnoreFile = 4 << 20
)

// ErrTooLarge is the error of a file over its bound (errors.Is).
var ErrTooLarge = errors.New("file too large")

// Open opens name (slash-separated, relative to root) through root for
// reading, refusing a link out of root and anything but a regular file.
// An error wraps fs.ErrNotExist when there is no such file.
func Open(root, name string) (*os.File, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", root, err)
	}
	defer r.Close()
	p := filepath.Join(root, filepath.FromSlash(name))
	// O_NONBLOCK: opening a FIFO for reading waits for a writer.
	f, err := r.OpenFile(filepath.FromSlash(name), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (a link out of the source is not followed: copy the file into the source)", p, err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("not a regular file but %s: make it a file of the source", typeOf(st.Mode()))
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return f, nil
}

// Read reads name from root (see Open), at most limit bytes: more is an
// error wrapping ErrTooLarge.
func Read(root, name string, limit int64) ([]byte, error) {
	f, err := Open(root, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, filepath.Join(root, filepath.FromSlash(name)), limit)
}

// ReadAll reads r, named what in errors, at most limit bytes.
func ReadAll(r io.Reader, what string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes, the limit: %w (go-image reads it into memory; no such file of a Go source is that large)", what, limit, ErrTooLarge)
	}
	return b, nil
}

func typeOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a " + m.Type().String() + " file"
}

// MaxEntries bounds the entries CheckLinks visits: a monorepo's checkout
// is far smaller (Kubernetes with its vendor directory: ~27,000 files).
const MaxEntries = 1_000_000

// CheckLinks refuses a source tree that holds a symbolic link out of it,
// in any directory but .git (a dangling link or a loop reads nothing). The go command follows links: a .go file linked to a token file
// is parsed, and go list, go build and the lint quote its first word in
// "expected 'package', found …", in an error the source's author reads in
// a CI log. A link inside the tree is the tree's own file and passes.
func CheckLinks(root string) error {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("source %s: %w", root, err)
	}
	entries := 0
	var bad []string
	err = filepath.WalkDir(realRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entries++; entries > MaxEntries {
			return fmt.Errorf("source %s: more than %d files and directories: go-image checks every link of the source before the go command reads it; pass the module's own directory as the source", root, MaxEntries)
		}
		if d.IsDir() && d.Name() == ".git" && p != realRoot {
			return fs.SkipDir
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil // dangling or a loop: nothing to read
		}
		if r, err := filepath.Rel(realRoot, real); err != nil || !filepath.IsLocal(r) {
			rel, _ := filepath.Rel(realRoot, p)
			target, _ := os.Readlink(p)
			bad = append(bad, fmt.Sprintf("%s -> %s", rel, target))
		}
		if len(bad) >= 8 {
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("source %s: links out of the source: %s: the go command follows them, so the build would read (and quote in its errors) files of this machine: replace each link with the file it names, or remove it", root, strings.Join(bad, ", "))
	}
	return nil
}
