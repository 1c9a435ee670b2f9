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
