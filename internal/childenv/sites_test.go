package childenv

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEveryExecSiteFilters guards the allowlist: every non-test file of
// go-image that starts a program either passes childenv's environment or
// an empty one. Test helpers, benchmarks and CI tools are not shipped and
// are left out.
func TestEveryExecSiteFilters(t *testing.T) {
	starts := regexp.MustCompile(`exec\.Command|exec\.Cmd\{|packages\.Config\{|os\.StartProcess|syscall\.ForkExec`)
	filters := regexp.MustCompile(`childenv\.(Go|Tool)\(|Env:\s*\[\]string\{\}`)
	root := filepath.Join("..", "..")
	var sites int
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			switch {
			case d.Name() == "testdata", strings.HasSuffix(d.Name(), "test"), rel == "bench", rel == "ci", strings.HasPrefix(d.Name(), "."):
				if rel != "." {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if starts.Match(b) {
			sites++
			if !filters.Match(b) {
				t.Errorf("%s starts a program without childenv's environment: set cmd.Env = childenv.Go(os.Environ(), …) or childenv.Tool(…)", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sites < 5 {
		t.Fatalf("found %d files that start programs: the walk is not looking at the code", sites)
	}
}
