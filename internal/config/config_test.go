package config_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/config"
)

const good = `# yaml-language-server: $schema=./go-image.schema.json
recipe:
  main: [./cmd/...]
  platforms: [linux/amd64, linux/arm64]
  version: "1.10"
  ldflags: ["-X main.commit={{.Revision}}"]
  labels:
    org.opencontainers.image.vendor: Acme
gates:
  maxSize: 20MB
  upx: warn
  skip:
    harden/no-setuid: the base ships ping
  scan:
    severity: CRITICAL
    ignoreUnfixed: true
  smoke:
    businessPort: 9090
    readyPath: ""
binaries:
  ctl:
    gates:
      off:
        smoke: a command-line tool, not a service
`

func TestParse(t *testing.T) {
	f, err := config.Parse("go-image.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.Join(f.Recipe.Main, " ") != "./cmd/...", *f.Recipe.Version != "1.10", len(f.Recipe.Platforms) != 2:
		t.Errorf("recipe = %+v", f.Recipe)
	case *f.Gates.MaxSize != "20MB", !*f.Gates.Scan.IgnoreUnfixed, *f.Gates.Smoke.BusinessPort != 9090, *f.Gates.Smoke.ReadyPath != "":
		t.Errorf("gates = %+v", f.Gates)
	case f.Binaries["ctl"].Gates.Off["smoke"] != "a command-line tool, not a service":
		t.Errorf("binaries = %+v", f.Binaries)
	case !strings.HasPrefix(f.Digest, "sha256:") || len(f.Digest) != len("sha256:")+64:
		t.Errorf("digest = %q", f.Digest)
	}
	for field, want := range map[string]config.Pos{
		"gates.maxSize":                   {Line: 10, Column: 12},
		"gates.skip.harden/no-setuid":     {Line: 13, Column: 23},
		"gates.scan.severity":             {Line: 15, Column: 15},
		"binaries.ctl.gates.off.smoke":    {Line: 24, Column: 16},
		"recipe.labels.team":              {Line: 8, Column: 5}, // not set: its map
		"gates.smoke.slowPath":            {Line: 17, Column: 3},
		"recipe.main":                     {Line: 3, Column: 9},
		"binaries.ctl.gates.scan.nothing": {Line: 22, Column: 5}, // the closest section
	} {
		if got := f.Position(field); got != want {
			t.Errorf("Position(%s) = %v, want %v", field, got, want)
		}
	}
	c, o := choices.Resolve(choices.DefaultLayer(), f.Layer(), f.BinaryLayer("ctl"))
	// The section is named: a report read without the file must show
	// that a binary's own section (which the source names) loosened it.
	if got := o.Of("gates.off.smoke").String(); got != "file go-image.yaml:24:16, section binaries.ctl" {
		t.Errorf("origin of the binary's choice = %q", got)
	}
	if got := o.Of("gates.maxSize").String(); got != "file go-image.yaml:10:12" {
		t.Errorf("origin of a top-level choice = %q", got)
	}
	if c.Gates.On("smoke") || *c.Gates.UPX != "warn" {
		t.Errorf("ctl's effective gates: %+v", c.Gates)
	}
	for _, empty := range []string{"", "\n", "# only a comment\n", "---\n"} {
		f, err := config.Parse("go-image.yaml", []byte(empty))
		if err != nil || f.Recipe.Main != nil || f.Binaries != nil {
			t.Errorf("Parse(%q) = %+v, %v: an empty file chooses nothing", empty, f, err)
		}
	}
}

// TestParseErrors: every bad file is refused with its line, its column
// and the choice it is about.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       string
	}{
		{"unknown key", "gates:\n  maxsize: 20MB\n", "go-image.yaml:2:3: gates.maxsize: unknown key (did you mean maxSize?); known keys: maxSize, upx"},
		{"unknown top-level key", "build:\n  main: .\n", "go-image.yaml:1:1: build: unknown key; known keys: recipe, gates, binaries"},
		{"wrong type: a list for a string", "gates:\n  maxSize: [20MB]\n", "go-image.yaml:2:12: gates.maxSize: want a string, not a list"},
		{"wrong type: a number for a string", "recipe:\n  version: 1.10\n", `go-image.yaml:2:12: recipe.version: want a string, not a number: quote it, "1.10"`},
		{"wrong type: a string for a port", "gates:\n  smoke:\n    probePort: eighty\n", "go-image.yaml:3:16: gates.smoke.probePort: want an integer"},
		{"wrong type: yes for a boolean", "gates:\n  scan:\n    ignoreUnfixed: yes\n", `go-image.yaml:3:20: gates.scan.ignoreUnfixed: want true or false, not "yes"`},
		{"wrong type: a string for a list", "recipe:\n  main: ./cmd/...\n", "go-image.yaml:2:9: recipe.main: want a list, e.g. [./cmd/api]"},
		{"wrong type: a list for a mapping", "gates:\n  - maxSize\n", "go-image.yaml:2:3: gates: want a mapping"},
		{"a skip without a reason", "gates:\n  skip:\n    harden/no-setuid: \"\"\n", "go-image.yaml:3:23: gates.skip.harden/no-setuid: skip"},
		{"a gate off without a reason", "gates:\n  off:\n    smoke: \" \"\n", "go-image.yaml:3:12: gates.off.smoke: switch off gate smoke: give the reason"},
		{"an unknown check skipped", "gates:\n  skip:\n    harden/typo: because\n", "go-image.yaml:3:18: gates.skip.harden/typo: skip"},
		{"a size of 25M", "gates:\n  maxSize: 25M\n", `go-image.yaml:2:12: gates.maxSize: max size: size "25M"`},
		{"an unknown ldflag template", "recipe:\n  ldflags: [\"-X main.t={{.Env.TOKEN}}\"]\n", "go-image.yaml:2:12: recipe.ldflags: ldflag \"-X main.t={{.Env.TOKEN}}\": unknown template"},
		{"a bad base", "recipe:\n  base: distroless\n", `go-image.yaml:2:9: recipe.base: base "distroless"`},
		{"a null", "gates:\n  maxSize:\n", "go-image.yaml:2:11: gates.maxSize: no value"},
		{"a duplicate key", "gates:\n  maxSize: 20MB\n  maxSize: 30MB\n", "go-image.yaml:3:3: gates.maxSize: given twice"},
		{"a duplicate map key", "gates:\n  off:\n    smoke: a\n    smoke: b\n", "go-image.yaml:4:5: gates.off.smoke: given twice"},
		{"a binary's main", "binaries:\n  api:\n    recipe:\n      main: [./cmd/api]\n", "go-image.yaml:4:13: binaries.api.recipe.main: a binary is its main package"},
		{"a binary's name", "binaries:\n  api:\n    recipe:\n      name: x\n", "go-image.yaml:4:13: binaries.api.recipe.name"},
		{"a bad binary choice", "gates:\n  maxSize: 20MB\nbinaries:\n  api:\n    gates:\n      maxSize: 20M\n", "go-image.yaml:6:16: binaries.api.gates.maxSize: max size"},
		{"a bad binary name", "binaries:\n  ../x:\n    gates: {}\n", "binaries.../x: binary name"},
		{"a control character", "gates:\n  off:\n    smoke: \"ok\\x1b[2K\\r[PASS]\"\n", "go-image.yaml:3:12: gates.off.smoke: control or invisible character U+001B"},
		{"a bidi override", "recipe:\n  labels:\n    team: \"pay\u202ements\"\n", "go-image.yaml:3:11: recipe.labels.team: control or invisible character U+202E"},
		{"a control character in a key", "gates:\n  off:\n    \"smo\\rke\": x\n", "go-image.yaml:3:5: gates.off: control or invisible character U+000D"},
		{"an anchor", "gates:\n  off:\n    smoke: &r needs a database\n    lint: *r\n", "go-image.yaml:3:12: gates.off.smoke: an anchor (&r)"},
		{"a merge key", "gates:\n  <<: {maxSize: 20MB}\n", "go-image.yaml:2:3: gates: a merge key (<<)"},
		{"an explicit tag", "gates:\n  maxSize: !!str 20MB\n", "go-image.yaml:2:12: gates.maxSize: an explicit tag (!!str)"},
		{"a custom tag", "gates:\n  maxSize: !env SIZE\n", "go-image.yaml:2:12: gates.maxSize: an explicit tag (!env)"},
		{"two documents", "gates: {}\n---\ngates: {}\n", "go-image.yaml:2:1: a second YAML document"},
		{"not a mapping", "- ./cmd/api\n", "go-image.yaml:1:1: want a mapping of known keys: recipe, gates, binaries"},
		{"not YAML", "gates: [\n", "go-image.yaml:1: not YAML: did not find expected node content"},
		{"a colon in a plain value", "gates:\n  off:\n    smoke: e2e: needs a db\n", "go-image.yaml:3: not YAML: mapping values are not allowed in this context"},
		{"not UTF-8", "gates:\n  off:\n    smoke: \xff\n", "go-image.yaml:3: not UTF-8"},
		{"an ignore file outside the source", "gates:\n  scan:\n    ignoreFile: ../../home/ci/.netrc\n", "go-image.yaml:3:17: gates.scan.ignoreFile: ignore file \"../../home/ci/.netrc\": must be a path inside the source"},
		{"an absolute ignore file", "gates:\n  scan:\n    ignoreFile: /etc/shadow\n", "must be a path inside the source"},
		{"an integer out of range", "recipe:\n  sourceDateEpoch: 99999999999999999999\n", "go-image.yaml:2:20: recipe.sourceDateEpoch: want an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("go-image.yaml", []byte(tc.yaml))
			var ce *config.Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

// TestHostileFiles: a policy file is read from a checkout under review, so
// one built to exhaust go-image (size, depth, aliases) fails fast.
func TestHostileFiles(t *testing.T) {
	laughs := "recipe:\n  ldflags: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'j'; i++ {
		laughs += fmt.Sprintf("%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	for _, tc := range []struct {
		name string
		data string
		want string
	}{
		{"too large", "# " + strings.Repeat("x", config.MaxSize) + "\n", "at most"},
		{"billion laughs", laughs + "gates:\n  off:\n    smoke: *j\n", "recipe.ldflags: an anchor (&a)"},
		{"an alias of nothing", "gates:\n  off:\n    smoke: *j\n", "unknown anchor"},
		{"deep flow nesting", "gates: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n", "max depth"},
		{"deep block nesting", "gates:\n" + deepBlock(500), "gates.off.k0: want a string, not a mapping"},
		{"many keys", "gates:\n  off:\n" + manyKeys(15000), "no such gate"},
		{"a NUL byte", "gates:\n  maxSize: \"20MB\\0\"\n", "control or invisible character U+0000"},
		{"a source file", "// Command api\npackage main\n\nfunc main() { secret := \"" + strings.Repeat("s", 500) + "\" }\n", "want a mapping"},
		{"a long value with a line break", "gates:\n  off:\n    smoke: |\n      " + strings.Repeat("x", 100) + "\n      second line\n", "a line break in"},
		{"a NUL byte raw", "gates:\n  maxSize: 20MB\x00\n", "not YAML: control characters are not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := config.Parse("go-image.yaml", []byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want an error containing %q", err, tc.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s", d)
			}
			if len(err.Error()) > 2000 {
				t.Errorf("the error is %d bytes long: it must not quote the file", len(err.Error()))
			}
		})
	}
	if _, err := config.Read("go-image.yaml", strings.NewReader(strings.Repeat("#", 10*config.MaxSize))); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("Read of a large file = %v", err)
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "    x%d: y\n", i)
	}
	return b.String()
}

// deepBlock is a block mapping n levels deep under gates.off.
func deepBlock(n int) string {
	var b strings.Builder
	b.WriteString("  off:\n")
	for i := range n {
		fmt.Fprintf(&b, "%sk%d:\n", strings.Repeat(" ", 4+i), i)
	}
	fmt.Fprintf(&b, "%sv: x\n", strings.Repeat(" ", 4+n))
	return b.String()
}

func TestBinaries(t *testing.T) {
	f, err := config.Parse("go-image.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CheckBinaries([]string{"api", "ctl"}); err != nil {
		t.Error(err)
	}
	err = f.CheckBinaries([]string{"api", "worker"})
	if err == nil || !strings.Contains(err.Error(), "go-image.yaml:21:3: binaries.ctl: no main package of this call builds a binary named ctl (it builds api, worker)") {
		t.Errorf("CheckBinaries = %v", err)
	}
	// An effective choice the file made is located in the file; one it
	// did not make is not.
	bad := &choices.Error{Field: "gates.off.smoke", Err: errors.New("bad")}
	if err := f.Locate(bad, "ctl"); err == nil || !strings.HasPrefix(err.Error(), "go-image.yaml:24:16: binaries.ctl.gates.off.smoke: bad") {
		t.Errorf("Locate = %v", err)
	}
	if err := f.Locate(&choices.Error{Field: "gates.maxSize", Err: errors.New("bad")}, "ctl"); err == nil || !strings.HasPrefix(err.Error(), "go-image.yaml:10:12: gates.maxSize") {
		t.Errorf("Locate = %v", err)
	}
	if err := f.Locate(&choices.Error{Field: "gates.lint.policy", Err: errors.New("bad")}, "ctl"); err != nil {
		t.Errorf("Locate of a choice the file did not make = %v", err)
	}
}

func ExampleParse() {
	_, err := config.Parse("go-image.yaml", []byte("gates:\n  maxSize: 25M\n"))
	fmt.Println(err)
	// Output: go-image.yaml:2:12: gates.maxSize: max size: size "25M": want a number and a unit, e.g. 25MB, 500kB, 1.5GiB (units: B, kB, MB, GB, KiB, MiB, GiB)
}

var update = flag.Bool("update", false, "rewrite go-image.schema.json from the Go types")

// TestSchemaInSync: the committed schema is what GenerateSchema makes of
// the Go types and their doc comments today (go test -run SchemaInSync
// -update rewrites it).
func TestSchemaInSync(t *testing.T) {
	docs, err := config.FieldDocs("../choices/choices.go", "config.go")
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.GenerateSchema(docs)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("go-image.schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, config.SchemaJSON) {
		t.Fatal("go-image.schema.json is stale: run go test ./internal/config -run SchemaInSync -update")
	}
}

// TestCommittedPolicies: every go-image.yaml of the repository (testdata,
// the benchmark's) parses.
func TestCommittedPolicies(t *testing.T) {
	var files []string
	for _, glob := range []string{"../../testdata/*/go-image.yaml", "../../bench/monorepo/*.go-image.yaml"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 4 {
		t.Fatalf("found %v", files)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := config.Parse(name, data); err != nil {
			t.Error(err)
		}
	}
}
