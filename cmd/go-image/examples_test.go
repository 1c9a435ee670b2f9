package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestCIExampleFlags: every go-image command line in ci/examples names a
// command and flags the CLI has. Each is parsed by the command's own flag
// set, with -h appended so nothing runs: an unknown command or flag, or a
// bool flag given a value, fails the parse.
func TestCIExampleFlags(t *testing.T) {
	files, err := filepath.Glob("../../ci/examples/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	gh, _ := filepath.Glob("../../ci/examples/github-actions/*.yml")
	files = append(files, gh...)
	if len(files) < 4 {
		t.Fatalf("examples %v, want GitHub and GitLab, Dagger and CLI", files)
	}
	seen := map[string]bool{}
	for _, f := range files {
		for _, line := range scripts(t, f) {
			for _, args := range invocations(line) {
				seen[args[0]] = true
				code, _, stderr := goImage(t, append(args, "-h")...)
				if code != 0 {
					t.Errorf("%s: go-image %s: exit %d:\n%s", filepath.Base(f), strings.Join(args, " "), code, lastLine(stderr))
				}
			}
		}
	}
	for _, cmd := range []string{"release", "build", "scan", "lint"} {
		if !seen[cmd] {
			t.Errorf("no example runs go-image %s (the CLI flow: release, then build/scan/lint for SARIF)", cmd)
		}
	}
}

// scripts returns the shell of a workflow's run steps or a pipeline's
// before_script, script and after_script, one logical line per element.
func scripts(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, y := range x {
				walk(k, y)
			}
		case []any:
			for _, y := range x {
				walk(key, y)
			}
		case string:
			switch key {
			case "run", "script", "before_script", "after_script":
				// A backslash-newline continues the line, as in the shell.
				out = append(out, strings.Split(strings.ReplaceAll(x, "\\\n", " "), "\n")...)
			}
		}
	}
	walk("", doc)
	return out
}

// goImageCall finds `go-image <command> …` as a command, not inside a word
// such as go-image-tools.
var goImageCall = regexp.MustCompile(`(?:^|[\s;(&|])go-image\s+([a-z][a-z-]*)\b`)

// invocations splits a shell line into the go-image command lines it
// runs: the command and its words, up to the end of the simple command.
func invocations(line string) [][]string {
	var out [][]string
	for _, m := range goImageCall.FindAllStringSubmatchIndex(line, -1) {
		words := shellWords(line[m[2]:])
		out = append(out, words)
	}
	return out
}

// shellWords splits s into words with the shell's quoting, stopping at the
// first unquoted operator (; & | > < ) or a comment.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			flush()
		case strings.ContainsRune(";&|<>)#", r) && !inWord:
			return words
		case strings.ContainsRune(";&|<>)", r):
			flush()
			return words
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	flush()
	return words
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestShellWords(t *testing.T) {
	tests := []struct{ in, want string }{
		{`release --address "$image:$TAG" --format markdown`, `release|--address|$image:$TAG|--format|markdown`},
		{`lint --source . --format sarif > sarif/lint.sarif`, `lint|--source|.|--format|sarif`},
		{`scan --image 'a b.tar' && echo done`, `scan|--image|a b.tar`},
		{`build --output x.tar; rm x`, `build|--output|x.tar`},
	}
	for _, tt := range tests {
		if got := strings.Join(shellWords(tt.in), "|"); got != tt.want {
			t.Errorf("shellWords(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := invocations(`mkdir -p ~/.cache/go-image-tools/bin && go-image verify --image x --key k`); len(got) != 1 || got[0][0] != "verify" {
		t.Errorf("invocations = %v, want only the verify command", got)
	}
}
