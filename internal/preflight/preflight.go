// Package preflight refuses, before minutes of compiling, inputs that
// would only fail after the build: an output file that cannot be written.
// (A bad signing key is refused by sign.LoadKey, a missing scanner by the
// scan gate's set-up; both run before the build too.)
package preflight

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Writable checks that path can be written, by opening it for writing the
// way the final write will: its directory must exist and accept the file.
// An existing file is opened without truncation and left as it was; a file
// the check had to create is removed again. flag names the option in the
// error, e.g. "--sbom". An empty path is not checked.
func Writable(flag, path string) error {
	if path == "" {
		return nil
	}
	st, err := os.Stat(path)
	if err == nil && st.IsDir() {
		return fmt.Errorf("%s %s: is a directory: give a file path, e.g. %s", flag, path, filepath.Join(path, "out.json"))
	}
	existed := err == nil
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		dir := filepath.Dir(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%s %s: directory %s does not exist: create it first (mkdir -p %s)", flag, path, dir, dir)
		case errors.Is(err, syscall.ENOTDIR):
			return fmt.Errorf("%s %s: a parent of the path is a file, not a directory", flag, path)
		case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
			return fmt.Errorf("%s %s: not writable (%v): choose a writable path", flag, path, err)
		}
		return fmt.Errorf("%s %s: cannot be written: %w", flag, path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if !existed {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("%s %s: remove the check's empty file: %w", flag, path, err)
		}
	}
	return nil
}
