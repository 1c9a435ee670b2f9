package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagger/go-image/ci/moduleapi"
)

// TestEveryFunctionCalled: every function of the module (an exported method
// of GoImage in the module's Go files) is called by an engine test, as `dagger call`
// does (its kebab-case name as an argument) or from Go as the consumer
// module does (.Name(...)). A function no test calls is not known to work.
func TestEveryFunctionCalled(t *testing.T) {
	api, err := moduleapi.Read(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var callers strings.Builder
	for _, glob := range []string{"internal/e2e/*_test.go", "testdata/consumer/*.go"} {
		files, err := filepath.Glob(filepath.Join(repoRoot, glob))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if filepath.Base(name) == "called_test.go" {
				continue
			}
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			callers.Write(b)
		}
	}
	tests := callers.String()
	delete(api, "") // the constructor: every call goes through it
	for name, fn := range api {
		if !strings.Contains(tests, `"`+name+`"`) && !strings.Contains(tests, "."+fn.GoName+"(") {
			t.Errorf("no engine test calls %s (%q)", fn.GoName, name)
		}
	}
	if len(api) < 20 {
		t.Fatalf("found %d functions of GoImage in the module's Go files: the parse no longer sees them", len(api))
	}
}
