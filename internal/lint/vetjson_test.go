package lint

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"dagger/go-image/internal/recipe"
)

func TestParseVetJSON(t *testing.T) {
	in := `go: downloading example.com/dep v1.0.0
go-image: build cache 10.89.0.1:5000/ci/go-build-cache:go-build-cache: 12 lookups: 12 local hits, 0 remote hits, 0 misses
go-image cacheprog: flush: registry unreachable
# example.com/a
{
	"example.com/a": {
		"httpshutdown": [
			{"posn": "/src/main.go:61:12", "end": "/src/main.go:61:12", "message": "Shutdown(context.Background()) has no deadline"}
		],
		"healthmux": []
	}
}
{}
`
	fs, err := ParseVetJSON(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Analyzer != "httpshutdown" || fs[0].Pos.Filename != "/src/main.go" || fs[0].Pos.Line != 61 || fs[0].Pos.Column != 12 {
		t.Fatalf("findings = %+v", fs)
	}
	if _, err := ParseVetJSON(strings.NewReader(`{"p": {"healthmux": {"error": "boom"}}}`)); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("analyzer error not returned: %v", err)
	}
	if _, err := ParseVetJSON(strings.NewReader(`{"p": `)); err == nil {
		t.Errorf("truncated output accepted")
	}
}

var vettool struct {
	once sync.Once
	path string
	err  error
}

// k8slint as a vet tool gives the same findings as the in-process checker,
// suppressions included, and Policy.Results turns both into the same
// verdicts under any policy: the Dagger module's path (go vet -vettool
// -json in a container, ParseVetJSON) and the CLI's agree on every testdata
// variant. (Running it through a Dagger engine is the module's own test.)
// buildVetTool builds cmd/k8slint once per test binary and returns its path.
func buildVetTool(t *testing.T) string {
	t.Helper()
	vettool.once.Do(func() {
		dir, err := os.MkdirTemp("", "k8slint-")
		if err != nil {
			vettool.err = err
			return
		}
		vettool.path = filepath.Join(dir, "k8slint")
		out, err := exec.Command("go", "build", "-o", vettool.path, "dagger/go-image/cmd/k8slint").CombinedOutput()
		if err != nil {
			vettool.err = err
			t.Log(string(out))
		}
	})
	if vettool.err != nil {
		t.Fatal(vettool.err)
	}
	return vettool.path
}

func TestVetToolMatchesCheck(t *testing.T) {
	tool := buildVetTool(t)
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "testdata")
	variants := []string{"service"}
	k8s, _ := filepath.Glob(filepath.Join(root, "k8s", "*", "go.mod"))
	for _, m := range k8s {
		if d := filepath.Base(filepath.Dir(m)); d != "client-go-stub" {
			variants = append(variants, "k8s/"+d)
		}
	}
	if len(variants) < 8 {
		t.Fatalf("found only %v under %s", variants, root)
	}
	// Findings that only facts across packages reveal.
	variants = append(variants, "../internal/lint/testdata/modules/crosspkg")
	policies := []string{"", "k8swatchcancel=warn,lintignore=warn,httpshutdown=deny"}
	pk := recipe.Options{Platform: runtime.GOOS + "/" + runtime.GOARCH}.Packages()
	build := Build{Flags: pk.Args, Env: pk.Env}
	sawSuppressed, sawCrossPackage := false, false
	for _, d := range variants {
		t.Run(d, func(t *testing.T) {
			dir := filepath.Join(root, d)
			// Both run as the executors run them: under the compile's
			// package configuration.
			args := build.VetCommand(tool, Options{})
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), build.Env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go vet: %v\n%s", err, out)
			}
			got, err := ParseVetJSON(strings.NewReader(string(out)))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			pkgs, err := LoadBuild(t.Context(), dir, build, "./...")
			if err != nil {
				t.Fatal(err)
			}
			want, err := Analyze(pkgs, Analyzers()...)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("vet tool found %d, checker %d:\n%v\n%v", len(got), len(want), got, want)
			}
			for i := range got {
				g, w := got[i], want[i]
				g.Pos.Offset, w.Pos.Offset = 0, 0 // vet's JSON has no byte offsets
				if g != w {
					t.Errorf("finding %d: vet tool %+v, checker %+v", i, got[i], want[i])
				}
				sawSuppressed = sawSuppressed || got[i].Suppressed != ""
				sawCrossPackage = sawCrossPackage || strings.Contains(got[i].Message, "server.New returns (created at server.go:10)")
			}
			for _, ps := range policies {
				p, err := ParsePolicy(ps)
				if err != nil {
					t.Fatal(err)
				}
				vr, cr := p.Results(dir, -1, Analyzers(), got), p.Results(dir, -1, Analyzers(), want)
				if !reflect.DeepEqual(vr, cr) {
					t.Errorf("policy %q: results differ:\nvet tool %+v\nchecker  %+v", ps, vr, cr)
				}
			}
		})
	}
	if !sawSuppressed || !sawCrossPackage {
		t.Errorf("suppressed finding seen: %v, cross-package finding seen: %v; want both tested", sawSuppressed, sawCrossPackage)
	}
}

// The operational-routes setting reaches the vet tool through VetArgs as it
// reaches the checker through Options: declaring the variant's business
// routes operational clears healthmux on both paths alike.
func TestVetArgsOperational(t *testing.T) {
	tool := buildVetTool(t)
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "k8s", "health-on-business-port")
	for _, o := range []Options{{}, {Operational: "/hello,/slow"}} {
		args := VetCommand(tool, o)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
		vet, err := ParseVetJSON(strings.NewReader(string(out)))
		if err != nil {
			t.Fatal(err)
		}
		checker, _, err := Run(t.Context(), dir, o)
		if err != nil {
			t.Fatal(err)
		}
		count := func(fs []Finding) (n int) {
			for _, f := range fs {
				if f.Analyzer == HealthMux.Name {
					n++
				}
			}
			return n
		}
		want := 2
		if o.Operational != "" {
			want = 0
		}
		if count(vet) != want || count(checker) != want {
			t.Errorf("operational %q: healthmux findings vet %d, checker %d, want %d", o.Operational, count(vet), count(checker), want)
		}
	}
}
