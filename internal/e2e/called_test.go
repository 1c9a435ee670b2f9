package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEveryFunctionCalled: every function of the module (an exported method
// of GoImage in main.go) is called by an engine test, as `dagger call`
// does (its kebab-case name as an argument) or from Go as the consumer
// module does (.Name(...)). A function no test calls is not known to work.
func TestEveryFunctionCalled(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(repoRoot, "main.go"), nil, 0)
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
	upper := regexp.MustCompile(`([a-z0-9])([A-Z])`)
	n := 0
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || !fn.Name.IsExported() {
			continue
		}
		if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); !ok || star.X.(*ast.Ident).Name != "GoImage" {
			continue
		}
		n++
		kebab := strings.ToLower(upper.ReplaceAllString(fn.Name.Name, "$1-$2"))
		if !strings.Contains(tests, `"`+kebab+`"`) && !strings.Contains(tests, "."+fn.Name.Name+"(") {
			t.Errorf("no engine test calls %s (%q)", fn.Name.Name, kebab)
		}
	}
	if n < 20 {
		t.Fatalf("found %d functions of GoImage in main.go: the parse no longer sees them", n)
	}
}
