package compile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostReads: what go build compiles must not make it read files of
// the machine: the assembler opens any path an #include names (and
// quotes the first word of each of its lines), and the go command
// follows links. Each hostile package is refused, naming the file and
// line; real assembly passes.
func TestHostReads(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secret, []byte("ghp_SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files map[string]string // name: contents, or "-> target" for a link
		want  string            // "" passes
	}{
		{"real assembly", map[string]string{"a_amd64.s": "#include \"textflag.h\"\n#include \"go_asm.h\"\n// #include \"/etc/passwd\" in a comment\nTEXT ·f(SB),NOSPLIT,$0-0\n\tRET\n"}, ""},
		{"its own header", map[string]string{"a_amd64.s": "#include \"asm.h\"\n", "asm.h": "#define X 1\n"}, ""},
		{"a header of the module up from the package (cloudflare/circl)", map[string]string{"a_amd64.s": "#include \"../fp/fp_amd64.h\"\n", "../fp/fp_amd64.h": "#define FP 1\n"}, ""},
		{"a .. after a name", map[string]string{"a_amd64.s": "#include \"sub/../x.h\"\n"}, `#include "sub/../x.h"`},
		{"a .. the package does not hold", map[string]string{"a_amd64.s": "#include \"../nothere.h\"\n"}, `#include "../nothere.h": no such header from the package`},
		{"an absolute path", map[string]string{"a_amd64.s": "#include \"" + secret + "\"\n"}, `a_amd64.s:1: #include "` + secret + `"`},
		{"up and out", map[string]string{"a_amd64.s": "\n#include \"../../../../../../../../etc/passwd\"\n"}, `a_amd64.s:2: #include "../../../../../../../../etc/passwd", out of its module`},
		{"dots escaped in the string", map[string]string{"a_amd64.s": "#include \"\\x2e\\x2e/x\"\n"}, `#include "../x": no such header`},
		{"a comment between # and include", map[string]string{"a_amd64.s": "#/* hide */include \"/etc/passwd\"\n"}, `#include "/etc/passwd"`},
		{"a macro that includes", map[string]string{"a_amd64.s": "#define I #include\nI \"/etc/passwd\"\n"}, "#include not followed by a header's name in quotes"},
		{"a header that includes", map[string]string{"a_amd64.s": "#include \"asm.h\"\n", "asm.h": "#include \"/etc/passwd\"\n"}, `asm.h:1: #include "/etc/passwd"`},
		{"a header linked out", map[string]string{"a_amd64.s": "#include \"asm.h\"\n", "asm.h": "-> " + secret}, `asm.h: a link to ` + secret},
		{"a .go file linked out", map[string]string{"leak.go": "-> " + secret}, "leak.go: a link to " + secret},
		{"an ignored file linked out", map[string]string{"leak_arm64.s": "-> " + secret}, "leak_arm64.s: a link to " + secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := t.TempDir()
			root := filepath.Join(mod, "x25519")
			if err := os.MkdirAll(filepath.Join(mod, "fp"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			p := listedFiles{Dir: root, ImportPath: "example.com/svc/x25519", GoFiles: []string{"main.go"}}
			p.Module = &struct{ Path, Dir string }{"example.com/svc", mod}
			if err := os.WriteFile(filepath.Join(root, "main.go"), []byte("package main\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			for name, data := range tt.files {
				path := filepath.Join(root, name)
				var err error
				if target, ok := strings.CutPrefix(data, "-> "); ok {
					err = os.Symlink(target, path)
				} else {
					err = os.WriteFile(path, []byte(data), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case strings.HasPrefix(name, "../"):
					// another package's header
				case strings.HasSuffix(name, "_arm64.s"):
					p.IgnoredOtherFiles = append(p.IgnoredOtherFiles, name)
				case strings.HasSuffix(name, ".s"):
					p.SFiles = append(p.SFiles, name)
				case strings.HasSuffix(name, ".h"):
					p.HFiles = append(p.HFiles, name)
				case strings.HasSuffix(name, ".go"):
					p.GoFiles = append(p.GoFiles, name)
				}
			}
			std := listedFiles{Dir: "/usr/local/go/src/runtime", ImportPath: "runtime", Standard: true, SFiles: []string{"asm_amd64.s"}}
			out := mustJSON(t, std) + mustJSON(t, p)
			err := HostReads(mod, []byte(out))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("HostReads: %v, want it to pass", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("HostReads: %v, want an error containing %q", err, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), "may #include only a header of its module or of the toolchain, by a relative path"):
				t.Errorf("HostReads: %v, want the fix", err)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}
