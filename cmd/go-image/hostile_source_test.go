package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/safetext"
)

// TestHostileSource: a source tree that arrives with a pull request, built
// or inspected by the CLI. Its go.mod, its go-image.yaml and the linker
// flags that file names are the author's. Each is refused with the cause
// and the fix, quickly, and nothing outside the temporary directories
// changes (the linker's -o used to write the binary anywhere).
func TestHostileSource(t *testing.T) {
	outside := t.TempDir()
	pwned := filepath.Join(outside, "pwned")
	// A token file of this machine: its first word must never reach an
	// error (the go command quotes the first word of each line it cannot
	// parse).
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("ghp_SECRETTOKEN\nsecond_SECRETLINE x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	asm := func(include string) map[string]hostile.SourceFile {
		return map[string]hostile.SourceFile{
			"main.go":   {Data: "package main\n\nfunc f()\n\nfunc main() { f() }\n"},
			"f_amd64.s": {Data: "#include \"textflag.h\"\n#include \"" + include + "\"\n"},
			"f_arm64.s": {Data: "#include \"textflag.h\"\n#include \"" + include + "\"\n"},
		}
	}
	tests := []struct {
		name  string
		files map[string]hostile.SourceFile
		cmd   string
		want  string
	}{
		{"go.mod linked to /dev/zero", map[string]hostile.SourceFile{"go.mod": {Link: "/dev/zero"}}, "config",
			"links out of the source: go.mod -> /dev/zero"},
		{"go.mod linked to the environment", map[string]hostile.SourceFile{"go.mod": {Link: "/proc/self/environ"}}, "config",
			"links out of the source: go.mod -> /proc/self/environ"},
		{"go.mod a FIFO", map[string]hostile.SourceFile{"go.mod": {FIFO: true}}, "config", "go.mod: not a regular file but a FIFO"},
		{"go.mod of 1 GiB", map[string]hostile.SourceFile{"go.mod": {Size: 1 << 30}}, "config", "go.mod: more than 4194304 bytes, the limit"},
		{"go-image.yaml a FIFO", map[string]hostile.SourceFile{"go-image.yaml": {FIFO: true}}, "config", "go-image.yaml: not a regular file but a FIFO"},
		{"ldflags -o out of the build", map[string]hostile.SourceFile{"go-image.yaml": {Data: "recipe:\n  ldflags: [\"-o " + pwned + "\"]\n"}}, "build",
			`recipe.ldflags: ldflag "-o ` + pwned + `": linker flag -o is not allowed`},
		{"ldflags -o after an -X", map[string]hostile.SourceFile{"go-image.yaml": {Data: "recipe:\n  ldflags: [\"-X\", \"main.v=1\", \"-o\", \"" + pwned + "\"]\n"}}, "build",
			"linker flag -o is not allowed"},
		{"a .go file linked to a token file", map[string]hostile.SourceFile{"leak.go": {Link: token}}, "build",
			"links out of the source: leak.go -> " + token},
		{"a main package of only that link, by a pattern", map[string]hostile.SourceFile{"cmd/x/leak.go": {Link: token}}, "config",
			"links out of the source: cmd/x/leak.go -> " + token},
		{"the lint over that link", map[string]hostile.SourceFile{"internal/leak.go": {Link: token}}, "lint",
			"links out of the source: internal/leak.go -> " + token},
		{"assembly including a token file", asm(token), "build", `f_amd64.s:2: #include "` + token + `"`},
		{"assembly including up and out", asm("../../../../../../../../../../.." + token), "build", `f_amd64.s:2: #include "../../`},
		// A CI runner reads "##[cmd]" anywhere in a line and "::cmd::" at
		// a line's start: the go command quotes the source, the policy
		// file's values are quoted in errors.
		{"a compile error quoting runner commands", map[string]hostile.SourceFile{"bad.go": {Data: "package main\n\nvar _ int = `##[add-mask]FAIL\n::stop-commands::pwn`\n"}}, "build",
			"cannot use `#\\x23[add-mask]FAIL\n\\x3a:stop-commands::pwn`"},
		{"a file name that is a runner command", map[string]hostile.SourceFile{"x##[add-mask]FAIL.go": {Data: "package main\n\nvar _ int = \"\"\n"}}, "build",
			"x#\\x23[add-mask]FAIL.go:3:13: cannot use"},
		{"a policy value that is a runner command", map[string]hostile.SourceFile{"go-image.yaml": {Data: "recipe:\n  base: \"##[add-mask]FAIL\"\n"}}, "config",
			`base "#\x23[add-mask]FAIL": unknown base image`},
		{"ldflags writing a profile", map[string]hostile.SourceFile{"go-image.yaml": {Data: "recipe:\n  ldflags: [\"-memprofile=" + pwned + "\"]\n"}}, "build",
			"linker flag -memprofile is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := hostile.Source(t, tt.files)
			args := []string{tt.cmd, "--source", src}
			switch tt.cmd {
			case "build":
				args = append(args, "--output", filepath.Join(t.TempDir(), "x.tar"))
			case "config":
				args = append(args, "--main", "./...")
			}
			start := time.Now()
			code, stdout, stderr := goImage(t, args...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want an error containing %q\nstdout:\n%s\nstderr:\n%s", code, tt.want, stdout, stderr)
			}
			for _, l := range strings.Split(stdout+stderr, "\n") {
				if c := safetext.Command(l); c != "" {
					t.Errorf("a CI runner reads command %q in %q", c, l)
				}
			}
			if strings.Contains(stdout+stderr, "SECRET") {
				t.Errorf("a file of this machine was quoted:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %s", d)
			}
			if left, _ := os.ReadDir(outside); len(left) != 0 {
				t.Errorf("the build wrote outside its directories: %v", left)
			}
		})
	}
}
