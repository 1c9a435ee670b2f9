package examples

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"dagger/go-image/ci/moduleapi"
)

// moduleAPI reads the module's functions and arguments from its Go files.
func moduleAPI(t *testing.T) map[string]moduleapi.Func {
	t.Helper()
	api, err := moduleapi.Read(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return api
}

var daggerCall = regexp.MustCompile(`dagger call (.*)`)

// TestDaggerCalls checks every `dagger call` of the examples against the
// module's API: each go-image function exists, and each flag is an
// argument of the function it follows (or of the constructor), so the
// examples break when the module's surface changes.
func TestDaggerCalls(t *testing.T) {
	api := moduleAPI(t)
	// The reader itself: with-max-size chains, release ends the chain and
	// takes a non-bool sign-key.
	if isBool, ok := api["release"].Args["sign-key"]; !api["with-max-size"].Chain || api["release"].Chain || !ok || isBool {
		t.Fatalf("the module's Go files read wrong: %+v", api)
	}
	files, _ := filepath.Glob("*.yml")
	more, _ := filepath.Glob("github-actions/*.yml")
	calls := 0
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Join shell continuations and YAML folded lines into one line per
		// command.
		text := strings.ReplaceAll(string(b), "\\\n", " ")
		text = regexp.MustCompile(`\n\s+--`).ReplaceAllString(text, " --")
		text = regexp.MustCompile(`\n\s+(with|without|release|check|scan|lint|smoke|tarball|build)`).ReplaceAllString(text, " $1")
		for _, m := range daggerCall.FindAllStringSubmatch(text, -1) {
			calls++
			words := strings.Fields(m[1])
			if len(words) > 0 && words[0] == "go-image" {
				// go-image as a toolchain of the workspace: dagger call
				// go-image <constructor flags> <function> …
				words = words[1:]
			}
			checkCall(t, f, api, words)
		}
	}
	if calls == 0 {
		t.Fatal("no dagger call in the examples")
	}
}

func checkCall(t *testing.T, file string, api map[string]moduleapi.Func, words []string) {
	t.Helper()
	fn := api[""] // the constructor takes the flags before the first function
	current := "the constructor"
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == ">" || w == ">>" || strings.HasPrefix(w, ">") || w == "|":
			return
		case w == "-m":
			i++
		case strings.HasPrefix(w, "--"):
			name, _, hasValue := strings.Cut(strings.TrimPrefix(w, "--"), "=")
			isBool, ok := fn.Args[name]
			if !ok {
				t.Errorf("%s: --%s is not an argument of %s: %s", file, name, current, strings.Join(words, " "))
				continue
			}
			if !hasValue && !isBool {
				i++
			}
		default:
			next, ok := api[w]
			if !ok {
				t.Errorf("%s: %q is not a function of the module: %s", file, w, strings.Join(words, " "))
				return
			}
			if current != "the constructor" && !fn.Chain {
				return
			}
			fn, current = next, w
			if !next.Chain {
				// The rest chains on what it returns (export, …): core API.
				checkArgs(t, file, next, current, words[i+1:])
				return
			}
		}
	}
}

// checkArgs checks the flags right after a function that ends the chain.
func checkArgs(t *testing.T, file string, fn moduleapi.Func, name string, words []string) {
	t.Helper()
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "--") {
			return // a core function (export …) follows
		}
		flag, _, hasValue := strings.Cut(strings.TrimPrefix(w, "--"), "=")
		isBool, ok := fn.Args[flag]
		if !ok {
			t.Errorf("%s: --%s is not an argument of %s", file, flag, name)
			continue
		}
		if !hasValue && !isBool {
			i++
		}
	}
}

// checkInput is a workflow's dagger check patterns: dagger-for-github's
// check input, or a dagger check command line.
var checkInput = regexp.MustCompile(`(?m)(?:^[ \t]*check:[ \t]+|dagger check )"?([^"\n]+)"?$`)

// TestDaggerChecks: every check a workflow runs is go-image's toolchain
// (go-image) or one of its +check functions (go-image:scan), so a renamed
// check breaks the build, not the user's CI.
func TestDaggerChecks(t *testing.T) {
	api := moduleAPI(t)
	checks := map[string]bool{}
	for name, fn := range api {
		if regexp.MustCompile(`(?m)^\+check\s*$`).MatchString(fn.Doc) {
			checks[name] = true
		}
	}
	for _, want := range []string{"size", "scan", "upx", "harden", "lint", "smoke"} {
		if !checks[want] {
			t.Errorf("%s is not a +check function of the module (checks: %v)", want, checks)
		}
	}
	files, _ := filepath.Glob("github-actions/*.yml")
	found := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range checkInput.FindAllStringSubmatch(string(b), -1) {
			for _, pattern := range strings.Fields(m[1]) {
				found++
				tc, fn, _ := strings.Cut(pattern, ":")
				if tc != "go-image" || (fn != "" && !checks[fn]) {
					t.Errorf("%s: dagger check %s: want go-image or go-image:<one of %v>", f, pattern, checks)
				}
			}
		}
	}
	if found == 0 {
		t.Error("no workflow runs dagger check")
	}
}
