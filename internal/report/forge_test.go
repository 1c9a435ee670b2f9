package report

import (
	"bytes"
	"encoding/json"
	"html"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"dagger/go-image/internal/safetext"
)

// Hostile strings as an image can put them in a result: a file name, a
// layer's history, a label, a line of a service's output.
var hostile = []string{
	"/bin/su\x1b[2K\r[PASS] harden/no-setuid   no setuid or setgid files",
	"/x\n[PASS] harden/no-world-writable",
	"/x\u202e)eliF(",
	"\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
	"a\u009b32mgreen",
	"x | y |\n## ✅ every gate passed\n\n**PASS: 12 passed, 0 failed**",
	"<h2>all green</h2><img src=https://evil.example/pass.svg>",
	"</details><details open><summary>PASS</summary>",
	"[PASS](https://evil.example) ![ok](https://evil.example/ok.png) *bold* _it_ ~~gone~~ $\\color{green}PASS$",
	"```\n</details>\n## forged",
	"`code` with `| pipe` and ``double`` and a lone ` backtick",
	"&lt;script&gt; &#x1b; \\` \\| trailing\\",
}

func hostileReport() *Report {
	r := &Report{Image: "img`|<b>x</b>\x1b[31m.tar"}
	for i, h := range hostile {
		r.Add(Result{Gate: "harden", ID: "harden/no-setuid" + strings.Repeat("`", i%3), Status: Fail, Message: "setuid file: " + h,
			Details: []string{h, "```", "~~~", "</details>"}, Metrics: map[string]float64{h: 1},
			Tool: &Tool{Name: "trivy", Version: h}})
	}
	return r
}

func TestTextReportCannotBeForged(t *testing.T) {
	r := hostileReport()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, c := range out {
		if c != '\n' && !safetext.Safe(string(c)) {
			t.Fatalf("text report keeps %U:\n%s", c, out)
		}
	}
	// Every line is go-image's: a mark, an indented detail, the header or
	// the summary; the failed results say FAIL and nothing says PASS first.
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := 1 + len(r.Results)*(1+4+1+1) + 1
	if len(lines) != want {
		t.Fatalf("text report has %d lines, want %d: a result started a line of its own:\n%s", len(lines), want, out)
	}
	for _, l := range lines[1 : len(lines)-1] {
		if !strings.HasPrefix(l, "[FAIL] ") && !strings.HasPrefix(l, "       ") {
			t.Errorf("line not go-image's: %q", l)
		}
	}
	if !strings.HasPrefix(lines[len(lines)-1], "FAIL: 0 passed") {
		t.Errorf("summary = %q", lines[len(lines)-1])
	}
	if !strings.Contains(out, `/bin/su\x1b[2K\r[PASS]`) {
		t.Errorf("the escape is not shown literally:\n%s", out)
	}
}

func TestGateErrorIsOneLinePerFailure(t *testing.T) {
	err := (&Report{Results: []Result{{ID: "harden/no-setuid", Status: Fail, Message: "x\n[PASS] y\x1b[2K"}}}).Err()
	if got, want := err.Error(), "1 gate check(s) failed:\n  harden/no-setuid: x\\n[PASS] y\\x1b[2K"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestMarkdownReportCannotBeForged(t *testing.T) {
	r := hostileReport()
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	// Inside fences, Markdown and HTML are shown literally; outside, none
	// of the hostile structure may survive.
	outside := checkMarkdownStructure(t, r, md)
	// (Headings and rows are counted by checkMarkdownStructure.)
	for _, bad := range []string{"<h2>", "<img", "</details><details", "*bold*", "$\\color", "~~gone", "[PASS](", "![ok]"} {
		if strings.Contains(outside, bad) {
			t.Errorf("markdown keeps %q outside code blocks:\n%s", bad, outside)
		}
	}
	if strings.ContainsAny(md, "\x1b\r") {
		t.Errorf("markdown keeps a raw ESC or CR")
	}
}

// checkMarkdownStructure asserts the structure of a rendered report is
// go-image's alone: one heading, one verdict, one table row per result,
// and one details block per result with details, each fenced so that no
// line inside can close the fence. It returns the lines outside fences.
func checkMarkdownStructure(t *testing.T, r *Report, md string) string {
	t.Helper()
	var outside []string
	lines := strings.Split(md, "\n")
	var headings, rows, details int
	fence := ""
	for i, l := range lines {
		if fence != "" {
			// CommonMark: up to 3 spaces, a run of at least the opening
			// fence's length, then only spaces. A line of a result that
			// did this would end the block early, and the lines after it
			// would fail the switch below.
			x := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(l, " "), " "), " ")
			if n := backtickRun(x); n >= len(fence) && strings.TrimRight(x[n:], " ") == "" {
				fence = ""
			}
			continue
		}
		outside = append(outside, l)
		switch {
		case strings.HasPrefix(l, "```"):
			fence = l[:backtickRun(l)]
		case strings.HasPrefix(l, "#"):
			headings++
		case strings.HasPrefix(l, "|") && !strings.HasPrefix(l, "|---") && !strings.HasPrefix(l, "| check |"):
			rows++
			checkCells(t, l)
		case strings.HasPrefix(l, "<details>"):
			details++
		case l == "", l == "</details>", strings.HasPrefix(l, "**"), strings.HasPrefix(l, "| check |"), strings.HasPrefix(l, "|---"):
		default:
			t.Errorf("line %d is not go-image's: %q", i, l)
		}
	}
	if fence != "" {
		t.Errorf("fence %q never closed", fence)
	}
	if headings != 1 || rows != len(r.Results) {
		t.Errorf("markdown has %d heading(s) and %d row(s), want 1 and %d:\n%s", headings, rows, len(r.Results), md)
	}
	want := 0
	for _, res := range r.Results {
		if len(res.Details) > 0 || len(res.Metrics) > 0 || res.Tool != nil {
			want++
		}
	}
	if details != want {
		t.Errorf("markdown has %d details blocks, want %d", details, want)
	}
	return strings.Join(outside, "\n")
}

// checkCells splits a table row as GFM does (on unescaped |) and asserts it
// has the three cells go-image writes.
func checkCells(t *testing.T, row string) {
	t.Helper()
	n := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	if n != 4 {
		t.Errorf("row %q has %d cell separators, want 4", row, n)
	}
}

// mdUnescape reverses mdText as a CommonMark renderer reads it, checking on
// the way that no unescaped structure is left: every backtick run outside
// the pairs mdText keeps is escaped, every Markdown punctuation character
// outside code spans is escaped, and no raw < > & remains.
func mdUnescape(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) || !strings.ContainsRune(mdPunct+"`", rune(s[i+1])) {
				t.Fatalf("stray backslash at %d in %q", i, s)
			}
			b.WriteByte(s[i+1])
			i++
		case c == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if backtickRun(s[i:]) != 1 || j < 0 || backtickRun(s[i+1+j:]) != 1 {
				t.Fatalf("unpaired backtick at %d in %q", i, s)
			}
			b.WriteString("`" + strings.ReplaceAll(s[i+1:i+1+j], `\|`, "|") + "`")
			i += j + 1
		case c == '&':
			end := strings.IndexByte(s[i:], ';')
			if end < 0 {
				t.Fatalf("raw & at %d in %q", i, s)
			}
			b.WriteString(html.UnescapeString(s[i : i+end+1]))
			i += end
		case c == '<' || c == '>' || (strings.IndexByte(mdPunct, c) >= 0):
			t.Fatalf("unescaped %q at %d in %q", c, i, s)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func TestMdText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"build without `upx` (drop --upx-compress)", "build without `upx` (drop --upx-compress)"},
		{"refresh it with `trivy image --download-db-only`", "refresh it with `trivy image --download-db-only`"},
		{"a | b", `a \| b`},
		{"`a|b`", "`a\\|b`"},
		{"lone ` tick", "lone \\` tick"},
		{"``double``", "\\`\\`double\\`\\`"},
		{"`one` ``two``", "`one` \\`\\`two\\`\\`"},
		{"<b>x</b> & [l](u) *e* _i_ ~s~ $m$ !", `&lt;b&gt;x&lt;/b&gt; &amp; \[l\](u) \*e\* \_i\_ \~s\~ \$m\$ \!`},
		{"line\n## heading", `line\\n## heading`},
		{"esc\x1b[31m", `esc\\x1b\[31m`},
		// A backslash before a pipe in a span would split a GFM cell
		// ("\\" is read first): no span then (FuzzRender found it).
		{"`\\|`", "\\`\\\\\\|\\`"},
		{"`a\\b`", "\\`a\\\\b\\`"},
	} {
		got := mdText(tc.in)
		if got != tc.want {
			t.Errorf("mdText(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if back := mdUnescape(t, got); back != safetext.Line(tc.in) {
			t.Errorf("mdText(%q) reads back as %q", tc.in, back)
		}
	}
}

func TestMdCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"harden/user-nonroot", "`harden/user-nonroot`"},
		{"a`b", "``a`b``"},
		{"`x``", "``` `x`` ```"},
		{"a|b", "`a\\|b`"},
		{"", "` `"},
		{"a\\|b`", "a\\\\\\|b\\`"},
	} {
		if got := mdCode(tc.in); got != tc.want {
			t.Errorf("mdCode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJSONStaysExact(t *testing.T) {
	r := hostileReport()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(b.Bytes(), "\x1b\r") {
		t.Fatal("JSON holds a raw control character")
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Results, r.Results) || back.Image != r.Image {
		t.Fatal("JSON does not round-trip the exact strings")
	}
}

// FuzzRender: whatever a result holds, the text report has no character a
// terminal acts on and one line per line go-image writes; the Markdown
// report keeps go-image's structure and reads back to the same text; JSON
// round-trips exactly.
func FuzzRender(f *testing.F) {
	for _, h := range hostile {
		f.Add("harden/no-setuid", h, h)
	}
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, id, msg, detail string) {
		r := &Report{Image: "img " + detail}
		r.Add(Result{Gate: "g", ID: id, Status: Fail, Message: msg, Details: []string{detail}, Metrics: map[string]float64{detail: 2}, Tool: &Tool{Name: msg}})
		r.Add(Result{Gate: "g", ID: "g/ok", Status: Pass, Message: detail})

		var text bytes.Buffer
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		for _, c := range text.String() {
			if c != '\n' && (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || unicode.In(c, unicode.Cf, unicode.Zl, unicode.Zp)) {
				t.Fatalf("text report keeps %U", c)
			}
		}
		if n := strings.Count(text.String(), "\n"); n != 1+(1+1+1+1)+1+1 {
			t.Fatalf("text report has %d lines:\n%s", n, text.String())
		}

		var md bytes.Buffer
		if err := r.WriteMarkdown(&md); err != nil {
			t.Fatal(err)
		}
		checkMarkdownStructure(t, r, md.String())
		if back := mdUnescape(t, mdText(msg)); back != safetext.Line(msg) {
			t.Fatalf("mdText(%q) reads back as %q", msg, back)
		}

		var js bytes.Buffer
		if err := r.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(js.Bytes(), &back); err != nil {
			t.Fatal(err)
		}
		// encoding/json replaces invalid UTF-8 with U+FFFD, by design.
		if utf8.ValidString(msg) && back.Results[0].Message != msg {
			t.Fatalf("JSON message %q, want %q", back.Results[0].Message, msg)
		}
	})
}

func ExampleReport_WriteMarkdown() {
	r := &Report{Image: "api.tar"}
	r.Add(Result{Gate: "harden", ID: "harden/no-setuid", Status: Fail,
		Message: "setuid file(s): /x\n## ✅ every gate passed <img src=x>; remove the chmod u+s",
		Details: []string{"/x\n```"}})
	r.WriteMarkdown(os.Stdout)
	// Output:
	// ## go-image report for `api.tar`
	//
	// **FAIL: 0 passed, 0 warned, 1 failed, 0 skipped**
	//
	// | check | status | message |
	// |---|---|---|
	// | `harden/no-setuid` | ❌ fail | setuid file(s): /x\\n## ✅ every gate passed &lt;img src=x&gt;; remove the chmod u+s |
	//
	// <details><summary><code>harden/no-setuid</code></summary>
	//
	// ````
	// /x\n```
	// ````
	//
	// </details>
}

// GitHub Actions runs a command in a job's output: "::add-mask::FAIL" at
// a line's start after spaces (a service's output line, shown as an
// indented detail), "##[add-mask]FAIL" anywhere (a file name in a
// message). Masked, "FAIL" reads "***" in the log; "::stop-commands::"
// switches off what follows; "::error file=…::" forges an annotation.
// No format go-image prints may carry one.
func TestNoRunnerCommandInAnyFormat(t *testing.T) {
	commands := []string{"::add-mask::FAIL", " \u3000::stop-commands::pwn", "x ##[add-mask]FAIL", "::error file=main.go,line=1::all gates passed", "a\n::set-output name=passed::true"}
	r := &Report{Image: "##[add-mask]img.tar"}
	for _, c := range commands {
		r.Add(Result{Gate: "smoke", ID: "smoke/startup", Status: Fail, Message: c, Details: []string{c}, Metrics: map[string]float64{c: 1}, Tool: &Tool{Name: c}})
	}
	many := Images{{Name: "api", Report: r}, {Name: "ctl", Report: r}}
	for _, format := range []string{"text", "markdown", "json"} {
		for what, w := range map[string]func(*bytes.Buffer) error{
			"report":  func(b *bytes.Buffer) error { return r.Write(b, format) },
			"images":  func(b *bytes.Buffer) error { return many.Write(b, format) },
			"summary": func(b *bytes.Buffer) error { return many.WriteSummary(b, format) },
		} {
			if what == "summary" && format == "json" {
				continue // the summary table is text or Markdown
			}
			var b bytes.Buffer
			if err := w(&b); err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(b.String(), "\n") {
				if c := safetext.Command(l); c != "" {
					t.Errorf("%s %s: a runner reads command %q in %q", format, what, c, l)
				}
			}
			if format == "json" {
				var back struct{ Results []Result }
				if what == "report" && (json.Unmarshal(b.Bytes(), &back) != nil || back.Results[0].Message != commands[0]) {
					t.Errorf("json report does not read back exactly: %s", b.String())
				}
			}
		}
	}
	for _, err := range []error{r.Err(), many.Err()} {
		for _, l := range strings.Split(err.Error(), "\n") {
			if c := safetext.Command(l); c != "" {
				t.Errorf("error: a runner reads command %q in %q", c, l)
			}
		}
	}
}
