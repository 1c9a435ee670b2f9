package compile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagger/go-image/internal/recipe"
)

// The pre-flight runs beside the compile and has the last word: a main
// package with a cgo file compiles under CGO_ENABLED=0 (the file is left
// out, and with it what it does), yet the build is refused with the
// pre-flight's reason, never handed on.
func TestBuildPreflightDecides(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"go.mod":  "module example.com/mixed\n\ngo 1.24\n",
		"main.go": "package main\n\nfunc main() { hello() }\n\nvar hello = func() {}\n",
		"c.go":    "package main\n\n// static void f(void) {}\nimport \"C\"\n\nfunc init() { hello = func() { C.f() } }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o, err := recipe.Options{Name: "mixed"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "mixed")
	err = Build(context.Background(), dir, o, out)
	if err == nil || !strings.Contains(err.Error(), "uses cgo (import \"C\" in c.go)") {
		t.Fatalf("Build = %v, want the pre-flight's cgo refusal", err)
	}
}
