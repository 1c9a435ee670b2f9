package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"dagger/go-image/ci/moduleapi"
	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/sbom"
	"dagger/go-image/internal/trivy"
	"dagger/go-image/internal/volumes"
)

// TestDocDefaults keeps the defaults the module's argument docs show (the
// module's manual: `dagger call X --help`) equal to the defaults the code
// applies, which live in the pure-Go packages: a Dagger argument's doc is a
// literal, so this test is what ties the two. It reads every Go file of the
// module through go/ast (ci/moduleapi), whichever file declares a function.
func TestDocDefaults(t *testing.T) {
	// function (kebab case, "" for the constructor) . argument → default.
	// The defaults the code applies: choices.Default, which reads them
	// from the owning packages, and the executor's own.
	d := choices.Default()
	g, sm := d.Gates, d.Gates.Smoke
	want := map[string]string{
		"with-max-size.size":       *g.MaxSize,
		"with-upx.policy":          *g.UPX,
		"with-severity.severity":   *g.Scan.Severity,
		"with-smoke.businessPort":  strconv.Itoa(*sm.BusinessPort),
		"with-smoke.probePort":     strconv.Itoa(*sm.ProbePort),
		"with-smoke.healthPath":    *sm.HealthPath,
		"with-smoke.readyPath":     *sm.ReadyPath,
		"with-smoke.slowPath":      *sm.SlowPath,
		"with-smoke.startupBudget": *sm.StartupBudget,
		"with-smoke.grace":         *sm.Grace,
		"with-lint-policy.policy":  string(lint.Deny),
		".trivyImage":              trivy.DefaultImage,
		".cacheNamespace":          volumes.DefaultNamespace,
		".baseImage":               recipe.DefaultAlpineImage,
		".platform":                d.Recipe.Platforms[0],
		".versionVar":              *d.Recipe.VersionVar,
		".base":                    *d.Recipe.Base,
		".main":                    d.Recipe.Main[0],
		"sbom.format":              string(sbom.DefaultFormat),
		"release.sbomFormat":       string(sbom.DefaultFormat),
	}
	api, err := moduleapi.Read(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	// "(default: VALUE)", "(default: VALUE, why)" or "(gate default: VALUE)".
	docDefault := regexp.MustCompile(`\((?:gate )?default: ([^)]+)\)`)
	seen := map[string]bool{}
	for fn, f := range api {
		for _, p := range f.Params {
			key := fn + "." + p.GoName
			w, ok := want[key]
			if !ok {
				continue
			}
			m := docDefault.FindStringSubmatch(p.Doc)
			if m == nil {
				continue
			}
			seen[key] = true
			if got := m[1]; got != w && !strings.HasPrefix(got, w+", ") {
				t.Errorf("%s documents %s's default as %q; the code applies %q", f.File, key, got, w)
			}
		}
	}
	for key := range want {
		if !seen[key] {
			t.Errorf("no argument %s documents its default (want %q): write it as (default: …)", key, want[key])
		}
	}
}

// TestModuleDocumented: every function of the module and every argument
// carries a doc comment, since they are its manual (`dagger functions`,
// `dagger call X --help`), whichever file declares them.
func TestModuleDocumented(t *testing.T) {
	api, err := moduleapi.Read(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for fn, f := range api {
		files[f.File] = true
		if strings.TrimSpace(f.Doc) == "" {
			t.Errorf("%s: %s has no doc comment", f.File, f.GoName)
		}
		for _, p := range f.Params {
			// The doc's first line is the description; pragmas alone
			// (+optional) describe nothing.
			if desc, _, _ := strings.Cut(strings.TrimSpace(p.Doc), "\n"); desc == "" || strings.HasPrefix(desc, "+") {
				t.Errorf("%s: %s argument %s has no doc comment", f.File, fn, p.GoName)
			}
		}
	}
	if len(api) < 20 {
		t.Fatalf("read %d functions from %v: the parse no longer sees them", len(api), files)
	}
}
