package local

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Files reads the files the choices name (choices.Files) from this
// machine: a path the user gave as it is (relative to the working
// directory), the source's files under Root.
type Files struct{ Root string }

// ReadFile implements choices.Files.
func (Files) ReadFile(_ context.Context, name string) ([]byte, error) {
	return os.ReadFile(name)
}

// InSource implements choices.Files: Root joined with name, when it exists.
func (f Files) InSource(_ context.Context, name string) (string, error) {
	p := filepath.Join(f.Root, name)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	return p, nil
}
