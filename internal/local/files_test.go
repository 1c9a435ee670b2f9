package local

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
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
	if b, err := f.ReadFile(ctx, name); err != nil || string(b) != "CVE-1\n" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	if name, err := (Files{Root: t.TempDir()}).InSource(ctx, ".trivyignore"); name != "" || err != nil {
		t.Errorf("InSource of a root without the file = %q, %v; want none", name, err)
	}
	if _, err := f.ReadFile(ctx, filepath.Join(root, "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v, want fs.ErrNotExist", err)
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
