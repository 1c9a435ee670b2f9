package hostile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A source tree arrives with a pull request: its author chooses its files,
// their sizes, and its symbolic links (git stores links; a link's target
// is any path). The generators below write such trees in a temporary
// directory.

// SourceFile is one path of a hostile source tree: a file with Data, a
// symbolic link to Link, a FIFO, or a sparse file of Size bytes (a
// gigabyte that costs nothing on disk, as a run of one byte costs
// nothing in a git pack).
type SourceFile struct {
	Data string
	Link string
	FIFO bool
	Size int64
}

// Service is a minimal main package, the module example.com/svc.
func Service() map[string]SourceFile {
	return map[string]SourceFile{
		"go.mod":  {Data: "module example.com/svc\n\ngo 1.26\n"},
		"main.go": {Data: "package main\n\nfunc main() {}\n"},
	}
}

// Source writes a source tree: Service with files added or replaced (a
// nil-like zero SourceFile removes the path).
func Source(t testing.TB, files map[string]SourceFile) string {
	t.Helper()
	dir := t.TempDir()
	all := Service()
	for name, f := range files {
		all[name] = f
	}
	for name, f := range all {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fatal(t, err)
		}
		var err error
		switch {
		case f.Link != "":
			err = os.Symlink(f.Link, p)
		case f.FIFO:
			err = syscall.Mkfifo(p, 0o644)
		case f.Size > 0:
			err = os.WriteFile(p, nil, 0o644)
			if err == nil {
				err = os.Truncate(p, f.Size)
			}
		case f == SourceFile{}:
			continue
		default:
			err = os.WriteFile(p, []byte(f.Data), 0o644)
		}
		if err != nil {
			fatal(t, err)
		}
	}
	return dir
}
