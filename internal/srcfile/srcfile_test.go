package srcfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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

// TestCheckLinks: the go command follows a source's links, and quotes the
// first word of what it parses; a link out of the source is refused, one
// inside it is the source's own file.
func TestCheckLinks(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secret, []byte("ghp_SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files map[string]hostile.SourceFile
		want  string // "" passes
	}{
		{"no links", nil, ""},
		{"a link inside", map[string]hostile.SourceFile{"cmd/x/main.go": {Link: "../../main.go"}}, ""},
		{"a directory link inside", map[string]hostile.SourceFile{"pkg/a.go": {Data: "package pkg\n"}, "alias": {Link: "pkg"}}, ""},
		{"a dangling link", map[string]hostile.SourceFile{"bin/current": {Link: "../out/x"}}, ""},
		{"a loop", map[string]hostile.SourceFile{"a": {Link: "b"}, "b": {Link: "a"}}, ""},
		{"a .go file linked to a token", map[string]hostile.SourceFile{"leak.go": {Link: secret}}, "leak.go -> " + secret},
		{"a relative link up and out", map[string]hostile.SourceFile{"cmd/leak.go": {Link: "../../../../../../../../" + secret}}, "cmd/leak.go -> ../../"},
		{"a directory linked out", map[string]hostile.SourceFile{"cmd/host": {Link: filepath.Dir(secret)}}, "cmd/host -> "},
		{"a link in .git is git's", map[string]hostile.SourceFile{".git/hooks/x": {Link: secret}}, ""},
		{"a link in a hidden directory", map[string]hostile.SourceFile{".hidden/leak.go": {Link: secret}}, ".hidden/leak.go -> "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := hostile.Source(t, tt.files)
			err := srcfile.CheckLinks(src)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckLinks: %v, want it to pass", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "replace each link with the file it names")):
				t.Errorf("CheckLinks: %v, want an error naming %q and the fix", err, tt.want)
			}
		})
	}
}
