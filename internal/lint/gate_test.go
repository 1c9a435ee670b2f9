package lint

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"dagger/go-image/internal/report"
)

// TestGate: the gate lints its directory whatever image it is given, and a
// directory it cannot load is an error naming it (gates.Run turns that into
// a failure).
func TestGate(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "testdata")
	g := Gate{Dir: filepath.Join(root, "k8s", "shutdown-no-timeout")}
	if g.Name() != "lint" {
		t.Errorf("Name = %q, want lint", g.Name())
	}
	rs, err := g.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, r := range rs {
		if r.Status == report.Fail {
			failed = append(failed, r.ID)
		}
	}
	if strings.Join(failed, " ") != "lint/httpshutdown" {
		t.Errorf("failed = %v, want lint/httpshutdown", failed)
	}
	missing := filepath.Join(t.TempDir(), "nowhere")
	if _, err := (Gate{Dir: missing}).Check(context.Background(), nil); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing dir: err = %v, want one naming %s", err, missing)
	}
}
