package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"dagger/go-image/internal/srcfile"
)

// Files reads the files the choices name (choices.Files) from this
// machine: a path the user gave as it is (relative to the working
// directory), the source's files under Root.
type Files struct{ Root string }

// ReadFile implements choices.Files. A file the user names may be a pipe
// (--ignorefile <(…)); the source's is a regular file (InSource).
func (Files) ReadFile(_ context.Context, name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return srcfile.ReadAll(f, name, limit)
}

// InSource implements choices.Files: Root joined with name, when it
// exists. A link that leads out of Root is refused: a checkout must not
// make go-image read (and quote in an error) a file elsewhere on this
// machine in the source's name.
func (f Files) InSource(_ context.Context, name string) (string, error) {
	p := filepath.Join(f.Root, name)
	if _, err := os.Lstat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	root, err := filepath.EvalSymlinks(f.Root)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(root, real); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%s is a link to %s, outside the source: copy the file into the source, or name it explicitly", p, real)
	}
	// Not a FIFO, which would block the read past SIGTERM, nor a device.
	if st, err := os.Stat(real); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file: make it a file of the source", p)
	}
	return p, nil
}
