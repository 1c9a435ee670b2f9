package engine

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/srcfile"
)

// Files reads the files the choices name (choices.Files) for the module:
// a file given as an argument (with-ignorefile) by its name, else the
// source directory's file of that name.
type Files struct {
	Source *dagger.Directory
	Given  map[string]*dagger.File
}

// File is the named file, for a container to mount; an error wrapping
// fs.ErrNotExist when neither an argument nor the source has it.
func (f Files) File(ctx context.Context, name string) (*dagger.File, error) {
	if g, ok := f.Given[name]; ok {
		return g, nil
	}
	ok, err := f.Source.Exists(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return f.Source.File(name), nil
}

// ReadFile implements choices.Files.
func (f Files) ReadFile(ctx context.Context, name string, limit int64) ([]byte, error) {
	file, err := f.File(ctx, name)
	if err != nil {
		return nil, err
	}
	return ReadBounded(ctx, file, name, limit)
}

// ReadBounded reads file, named name in errors, when it holds at most
// limit bytes (an error wrapping srcfile.ErrTooLarge when not). The size
// is asked first: Contents would bring the whole file into this process,
// and a source's go.mod or .trivyignore is its author's to make huge.
func ReadBounded(ctx context.Context, file *dagger.File, name string, limit int64) ([]byte, error) {
	size, err := file.Size(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(size) > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the limit of %d: %w (go-image reads it into memory; no such file of a Go source is that large)", name, size, limit, srcfile.ErrTooLarge)
	}
	s, err := file.Contents(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return []byte(s), nil
}

// InSource implements choices.Files: the source's names are its own.
func (f Files) InSource(ctx context.Context, name string) (string, error) {
	ok, err := f.Source.Exists(ctx, name)
	if err != nil || !ok {
		return "", err
	}
	return name, nil
}

// workdirFile hands a file of the module's own file system to the engine:
// through the module's working directory, which CurrentModule.WorkdirFile
// reads, copying it there first when it lies elsewhere.
func (e *Executor) workdirFile(path string) (*dagger.File, error) {
	if filepath.IsLocal(path) {
		return e.Dag.CurrentModule().WorkdirFile(path), nil
	}
	dir, err := scratchDir()
	if err != nil {
		return nil, err
	}
	// Streamed, not read whole: the file can be an image (a flattened one
	// for the scan), up to the image bounds in size.
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dst := filepath.Join(dir, filepath.Base(path))
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return nil, fmt.Errorf("copy %s into the module's working directory: %w", filepath.Base(path), err)
	}
	if err := out.Close(); err != nil {
		return nil, err
	}
	return e.Dag.CurrentModule().WorkdirFile(dst), nil
}
