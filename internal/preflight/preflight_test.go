package preflight

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWritable(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "report.json")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, wantErr string
	}{
		{"empty: not asked", "", ""},
		{"new file", filepath.Join(dir, "sbom.json"), ""},
		{"existing file", existing, ""},
		{"missing directory", filepath.Join(dir, "no", "such", "sbom.json"), "does not exist: create it first"},
		{"a directory", dir, "is a directory"},
		{"under a file", filepath.Join(file, "sbom.json"), "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Writable("--sbom", tt.path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "--sbom ") {
				t.Fatalf("err = %v, want one naming --sbom and %q", err, tt.wantErr)
			}
		})
	}
	// The check leaves no trace: no new file, the existing one unchanged.
	if _, err := os.Stat(filepath.Join(dir, "sbom.json")); !os.IsNotExist(err) {
		t.Errorf("the check left sbom.json behind (%v)", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("the check changed an existing file: %q", b)
	}
}

// TestReadOnly: a file the process may not write is refused. Root may
// write anything, so this needs an unprivileged user.
func TestReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("SKIP: running as root, which may write a read-only directory; the refusal is tested for unprivileged users")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if err := Writable("--report", filepath.Join(dir, "r.md")); err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Errorf("read-only directory: err = %v", err)
	}
}
