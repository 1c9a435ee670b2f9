package e2e

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"dagger/go-image/internal/policy"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/smoke"
	"dagger/go-image/internal/trivy"
)

// engineConst reads a string constant of internal/engine from its source:
// importing the package would run the Dagger client's init, which needs a
// session.
func engineConst(t *testing.T, name string) string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(repoRoot, "internal", "engine", "engine.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	obj := f.Scope.Lookup(name)
	if obj == nil {
		t.Fatalf("internal/engine has no constant %s", name)
	}
	lit, ok := obj.Decl.(*ast.ValueSpec).Values[0].(*ast.BasicLit)
	if !ok {
		t.Fatalf("%s is not a literal", name)
	}
	v, err := strconv.Unquote(lit.Value)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDocDefaults keeps the defaults main.go's argument docs show (the
// module's manual: `dagger call X --help`) equal to the defaults the code
// applies, which live in the pure-Go packages: a Dagger argument's doc is a
// literal, so this test is what ties the two.
func TestDocDefaults(t *testing.T) {
	want := map[string]string{
		"size":           policy.DefaultMaxSize,
		"policy":         policy.DefaultUPX,
		"severity":       scan.DefaultSeverity,
		"businessPort":   strconv.Itoa(smoke.DefaultBusinessPort),
		"probePort":      strconv.Itoa(smoke.DefaultProbePort),
		"healthPath":     smoke.DefaultHealthPath,
		"readyPath":      smoke.DefaultReadyPath,
		"slowPath":       smoke.DefaultSlowPath,
		"startupBudget":  smoke.DefaultStartupBudget.String(),
		"grace":          smoke.DefaultGrace.String(),
		"trivyImage":     trivy.DefaultImage,
		"cacheNamespace": engineConst(t, "DefaultCacheNamespace"),
		"baseImage":      recipe.DefaultAlpineImage,
		"platform":       recipe.DefaultPlatform,
		"versionVar":     recipe.DefaultVersionVar,
		"base":           string(recipe.Scratch),
	}
	f, err := os.Open(filepath.Join(repoRoot, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// "(default: VALUE)", "(default: VALUE, why)" or "(gate default: VALUE)".
	docDefault := regexp.MustCompile(`\((?:gate )?default: ([^)]+)\)`)
	param := regexp.MustCompile(`^\t(\w+) [\w*.\[\]]+,$`)
	seen := map[string]bool{}
	var last string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "//") {
			if m := docDefault.FindStringSubmatch(line); m != nil {
				last = m[1]
			}
			continue
		}
		if m := param.FindStringSubmatch(line); m != nil && last != "" {
			if w, ok := want[m[1]]; ok {
				seen[m[1]] = true
				if last != w && !strings.HasPrefix(last, w+", ") {
					t.Errorf("main.go documents %s's default as %q; the code applies %q", m[1], last, w)
				}
			}
		}
		last = ""
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("main.go documents no default for %s (want %q): write it as (default: …)", p, want[p])
		}
	}
}
