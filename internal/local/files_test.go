package local

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"dagger/go-image/internal/srcfile"
)

func TestFiles(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, ".trivyignore"), []byte("CVE-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := Files{Root: root}
	name, err := f.InSource(ctx, ".trivyignore")
	if err != nil || name != filepath.Join(root, ".trivyignore") {
		t.Fatalf("InSource = %q, %v; want the file under the root", name, err)
	}
	if b, err := f.ReadFile(ctx, name, 1<<20); err != nil || string(b) != "CVE-1\n" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	if name, err := (Files{Root: t.TempDir()}).InSource(ctx, ".trivyignore"); name != "" || err != nil {
		t.Errorf("InSource of a root without the file = %q, %v; want none", name, err)
	}
	if _, err := f.ReadFile(ctx, filepath.Join(root, "gone"), 1<<20); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v, want fs.ErrNotExist", err)
	}
	// A .trivyignore comes with the code under review: a gigabyte of it
	// (a sparse file here; in a git pack, a run of one byte) is refused
	// before it is read, the source's FIFO before it blocks.
	huge := filepath.Join(root, "huge")
	if err := os.WriteFile(huge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 1<<30); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFile(ctx, huge, 1<<20); !errors.Is(err, srcfile.ErrTooLarge) {
		t.Errorf("ReadFile of 1 GiB with a 1 MiB limit: %v, want srcfile.ErrTooLarge", err)
	}
	fifoRoot := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifoRoot, ".trivyignore"), 0o644); err != nil {
		t.Fatal(err)
	}
	if name, err := (Files{Root: fifoRoot}).InSource(ctx, ".trivyignore"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("InSource of a FIFO: %q, %v; want it refused as not a regular file", name, err)
	}
	// A link inside the source is the source's file; one out of it is refused.
	linked := t.TempDir()
	if err := os.WriteFile(filepath.Join(linked, "accepted"), []byte("CVE-2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("accepted", filepath.Join(linked, ".trivyignore")); err != nil {
		t.Fatal(err)
	}
	if name, err := (Files{Root: linked}).InSource(ctx, ".trivyignore"); err != nil || name != filepath.Join(linked, ".trivyignore") {
		t.Errorf("a link inside the source: %q, %v", name, err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	escaping := t.TempDir()
	if err := os.Symlink(secret, filepath.Join(escaping, ".trivyignore")); err != nil {
		t.Fatal(err)
	}
	if name, err := (Files{Root: escaping}).InSource(ctx, ".trivyignore"); err == nil || !strings.Contains(err.Error(), "outside the source") {
		t.Errorf("a link out of the source: %q, %v; want it refused", name, err)
	}
	// A root that cannot be looked into is an error, not "no file".
	if os.Geteuid() != 0 {
		locked := filepath.Join(t.TempDir(), "locked")
		if err := os.Mkdir(locked, 0o000); err != nil {
			t.Fatal(err)
		}
		if _, err := (Files{Root: locked}).InSource(ctx, ".trivyignore"); err == nil {
			t.Error("InSource under an unreadable root: no error")
		}
	}
}
