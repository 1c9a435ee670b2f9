package srcfile_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/srcfile"
)

// TestRead: the files go-image reads from a source are the author's,
// links included. Each hostile one is refused quickly, naming why, and a
// link out of the source is never followed.
func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		file    hostile.SourceFile
		want    string // the contents, or the error
		wantErr error
	}{
		{"a file", hostile.SourceFile{Data: "module x\n"}, "module x\n", nil},
		{"a link inside the source", hostile.SourceFile{Link: "main.go"}, "package main\n\nfunc main() {}\n", nil},
		{"a link to /dev/zero", hostile.SourceFile{Link: "/dev/zero"}, "path escapes from parent (a link out of the source is not followed", nil},
		{"a link to the environment", hostile.SourceFile{Link: "/proc/self/environ"}, "a link out of the source is not followed", nil},
		{"a link up and out", hostile.SourceFile{Link: "../../../../../../etc/passwd"}, "a link out of the source is not followed", nil},
		{"a FIFO", hostile.SourceFile{FIFO: true}, "not a regular file but a FIFO: make it a file of the source", nil},
		{"a directory", hostile.SourceFile{Link: "."}, "not a regular file but a directory", nil},
		{"a gigabyte", hostile.SourceFile{Size: 1 << 30}, "more than 1024 bytes, the limit", srcfile.ErrTooLarge},
		{"a link loop", hostile.SourceFile{Link: "f"}, "too many levels of symbolic links", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := hostile.Source(t, map[string]hostile.SourceFile{"f": tt.file})
			start := time.Now()
			got, err := srcfile.Read(src, "f", 1024)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s", d)
			}
			if err == nil {
				if string(got) != tt.want {
					t.Errorf("Read = %q, want %q", got, tt.want)
				}
				return
			}
			if !strings.Contains(err.Error(), tt.want) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("Read: %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := srcfile.Read(t.TempDir(), "go.mod", 1024); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a missing file: %v, want fs.ErrNotExist", err)
	}
}
