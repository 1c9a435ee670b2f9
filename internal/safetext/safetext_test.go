package safetext_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"dagger/go-image/internal/safetext"
)

func TestLine(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain ASCII is kept", "/usr/local/bin/app (mode 4755)", "/usr/local/bin/app (mode 4755)"},
		{"other scripts are kept", "/srv/données/日本語", "/srv/données/日本語"},
		{"emoji are kept", "⚠️ ✅", "⚠️ ✅"},
		{"ANSI erase line and CR cannot overwrite", "/x\x1b[2K\r[PASS] harden/no-setuid", `/x\x1b[2K\r[PASS] harden/no-setuid`},
		{"OSC title and hyperlink", "\x1b]0;pwned\x07\x1b]8;;http://e\x1b\\", `\x1b]0;pwned\x07\x1b]8;;http://e\x1b\`},
		{"newline cannot start a line", "a\n[PASS] b", `a\n[PASS] b`},
		{"tab, backspace, NUL, DEL", "a\tb\bc\x00d\x7f", `a\tb\x08c\x00d\x7f`},
		{"C1 CSI as a rune", "a\u009b31mb", `a\u009b31mb`},
		{"C1 as a raw byte (not UTF-8)", "a\x9b31mb", `a\x9b31mb`},
		{"bidi override reverses nothing", "evil\u202etxt.exe", `evil\u202etxt.exe`},
		{"bidi isolates", "\u2066a\u2069", `\u2066a\u2069`},
		{"zero-width characters", "pa\u200bss\u200d\ufeff", `pa\u200bss\u200d\ufeff`},
		{"line and paragraph separators", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"tag characters", "x\U000E0041", `x\U000e0041`},
		{"noncharacter", "x\uffff", `x\uffff`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
		{"a real U+FFFD is printable", "a\ufffdb", "a\ufffdb"},
		// GitHub Actions runs these from a job's output (Command).
		{"runner command at the start", "::add-mask::FAIL", `\x3a:add-mask::FAIL`},
		{"runner command after spaces", "   ::stop-commands::x", `   \x3a:stop-commands::x`},
		{"runner command after Unicode spaces", "\u00a0\u3000::error::x", "\u00a0\u3000\\x3a:error::x"},
		{"runner command after a newline", "a\n ::set-output name=passed::true", `a\n \x3a:set-output name=passed::true`},
		{"runner command behind a tab (escaped, no longer a space)", "\t::x::y", `\t::x::y`},
		{"a :: inside a line is not a command", "[::1]:8080 a::b", "[::1]:8080 a::b"},
		{"legacy runner command anywhere", "/usr/bin/x##[add-mask]FAIL", `/usr/bin/x#\x23[add-mask]FAIL`},
		{"legacy command behind more hashes", "###[error]x", `##\x23[error]x`},
		{"a lone # or ## is kept", "#1 ## [x]", "#1 ## [x]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := safetext.Line(tc.in)
			if got != tc.want {
				t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if safetext.Safe(tc.in) != (tc.in == tc.want) {
				t.Errorf("Safe(%q) = %v", tc.in, safetext.Safe(tc.in))
			}
			if c := safetext.Command(got); c != "" {
				t.Errorf("Line(%q) = %q: a runner reads command %q in it", tc.in, got, c)
			}
		})
	}
}

// Block keeps the lines, so each line is a place a runner reads "::".
func TestBlockHasNoRunnerCommand(t *testing.T) {
	in := "# example.com/svc\n./main.go:3:13: cannot use \"##[add-mask]FAIL\" (untyped string constant) as int value\n  ::stop-commands::pwn\n::error file=main.go::forged"
	got := safetext.Block(in)
	for _, l := range strings.Split(got, "\n") {
		if c := safetext.Command(l); c != "" {
			t.Errorf("Block line %q: a runner reads command %q", l, c)
		}
	}
	if strings.Count(got, "\n") != 3 {
		t.Errorf("Block = %q: lines lost", got)
	}
}

func TestCommand(t *testing.T) {
	for in, want := range map[string]string{
		"::add-mask::x": "add-mask", " \t::error file=a::m": "error", "x ##[set-output name=a;]b": "set-output",
		"a::b::c": "", "::nope": "", "##[nope": "", "plain": "",
	} {
		if got := safetext.Command(in); got != want {
			t.Errorf("Command(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJSONReadsBackTheSame(t *testing.T) {
	in := map[string]string{"message": "##[add-mask]FAIL ###[x]", "k##[": "::error::x"}
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out := safetext.JSON(b)
	for _, l := range strings.Split(string(out), "\n") {
		if c := safetext.Command(l); c != "" {
			t.Errorf("JSON line %q: a runner reads command %q", l, c)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || !reflect.DeepEqual(back, in) {
		t.Errorf("JSON(%s) = %s reads back as %v (%v), want %v", b, out, back, err, in)
	}
}

func TestBlockKeepsNewlinesOnly(t *testing.T) {
	got := safetext.Block("compile failed:\n./main.go:3: \x1b[31mred\r\n")
	want := "compile failed:\n./main.go:3: \\x1b[31mred\\r\n"
	if got != want {
		t.Errorf("Block = %q, want %q", got, want)
	}
}

// TestTail: a go command's stderr over a hostile source (a file named
// with escapes, compile errors by the megabyte) quoted in a Dagger
// function's error: its end, bounded, escaped, cut on a character.
func TestTail(t *testing.T) {
	forged := `./\x1b[2K\r[PASS] every gate passed.go:1:1: expected 'package'`
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"short output is kept, trimmed", "  go: error\n", 100, "go: error"},
		{"escapes are shown, not run", "./\x1b[2K\r[PASS] every gate passed.go:1:1: expected 'package'\n", 1000, forged},
		{"the end is kept", strings.Repeat("x", 10_000) + "\nthe cause", 20, "…xxxxxxxxxx\nthe cause"},
		{"cut on a character", "ab" + strings.Repeat("é", 4), 7, "…" + strings.Repeat("é", 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := safetext.Tail(tc.in, tc.max)
			if got != tc.want {
				t.Errorf("Tail(%.60q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
			if !utf8.ValidString(got) || strings.ContainsAny(got, "\x1b\r") {
				t.Errorf("Tail(%.60q) = %q: invalid UTF-8 or a control character kept", tc.in, got)
			}
		})
	}
	// 64 MiB of output: the error quotes at most the bound (escaping can
	// at most quadruple it: \xNN).
	huge := strings.Repeat("\x1b", 64<<20)
	if got := safetext.Tail(huge, 2000); len(got) > 4*2000+len("…") {
		t.Errorf("Tail of 64 MiB kept %d bytes, want at most %d", len(got), 4*2000+len("…"))
	}
}

func ExampleLine() {
	// A file name crafted to repaint a failed line as a pass.
	name := "/bin/su\x1b[2K\r[PASS] harden/no-setuid"
	fmt.Println("[FAIL] setuid file: " + safetext.Line(name))
	// Output: [FAIL] setuid file: /bin/su\x1b[2K\r[PASS] harden/no-setuid
}

// FuzzLine: whatever the input, Line's output is valid UTF-8 with no rune a
// terminal would act on, and Block's differs from it only by newlines.
func FuzzLine(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[2K\r[PASS]", "a\u202eb", "\xff\xfe", "\u009b1m", "x\n\ny", "\U000E0041\u2028", " ::add-mask::x", "a##[error]b", "x\n\u3000::y::z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		line, block := safetext.Line(s), safetext.Block(s)
		for name, out := range map[string]string{"Line": line, "Block": block} {
			if !utf8.ValidString(out) {
				t.Fatalf("%s(%q) = %q: not valid UTF-8", name, s, out)
			}
			for _, r := range out {
				if r == '\n' && name == "Block" {
					continue
				}
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
					t.Fatalf("%s(%q) = %q keeps %U", name, s, out, r)
				}
			}
		}
		if strings.ReplaceAll(block, "\n", `\n`) != line {
			t.Fatalf("Block(%q) = %q and Line = %q differ by more than newlines", s, block, line)
		}
		if !safetext.Safe(line) {
			t.Fatalf("Line(%q) = %q is not Safe: escaping is not idempotent", s, line)
		}
		for _, l := range strings.Split(block, "\n") {
			if c := safetext.Command(l); c != "" {
				t.Fatalf("Block(%q) = %q: a runner reads command %q", s, block, c)
			}
		}
		// Index names characters; a runner command marker is escaped too.
		marker := strings.Contains(s, "##[") || strings.Contains(s, "::")
		if i := safetext.Index(s); (i >= 0 && line == s) || (i < 0 && line != s && !marker) || (i >= 0 && safetext.Line(s[:i]) != s[:i] && !marker) {
			t.Fatalf("Index(%q) = %d, but Line gives %q", s, i, line)
		}
		if safetext.Safe(s) != (line == s) {
			t.Fatalf("Safe(%q) = %v, but Line changes it to %q", s, safetext.Safe(s), line)
		}
	})
}

func TestWriter(t *testing.T) {
	var b strings.Builder
	w := safetext.NewWriter(&b)
	for _, part := range []string{"INFO scanning ", "/usr/bin/x##[add-mask]FAIL\n::stop-", "commands::pwn\n\x1b[2K", "\r[PASS]", strings.Repeat("a", 70<<10)} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []string{`INFO scanning /usr/bin/x#\x23[add-mask]FAIL`, `\x3a:stop-commands::pwn`, `\x1b[2K\r[PASS]` + strings.Repeat("a", 64<<10-11), strings.Repeat("a", 6<<10+11)}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("Writer wrote %d lines, want %d", len(lines), len(want))
		for i := range min(len(lines), len(want)) {
			if lines[i] != want[i] {
				t.Errorf("line %d = %.80q, want %.80q", i, lines[i], want[i])
			}
		}
	}
}
