// Package safetext makes text that comes from an image, a source tree, a
// registry or a running service safe to show on a terminal. Such text is
// written by whoever built the image: a file name holding "\x1b[2K\r[PASS]"
// would otherwise erase go-image's own "[FAIL]" on screen, a U+202E would
// reverse what follows it, and a "\n" would start a line go-image never
// wrote. Every character that moves the cursor, changes the display or is
// invisible is replaced by a visible Go-style escape (\x1b, \r, \u202e);
// everything printable, any script, is kept as it is.
//
// CI runners read commands in what a job prints: GitHub Actions runs
// "::add-mask::FAIL" or "::stop-commands::x" at the start of a line (after
// any spaces) and "##[add-mask]FAIL" anywhere in one, so a file name or a
// compiler error quoting a string could mask go-image's verdict in the log,
// forge an annotation, or switch off the commands that follow. Line and
// Block escape the "::" that starts a line (\x3a:) and every "##[" (#\x23[).
//
// JSON and SARIF keep their exact bytes; JSON escapes "##[" the way a
// decoder reads back unchanged (JSON).
package safetext

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line returns s safe to print as (part of) one terminal line: newlines are
// escaped too, so s cannot start a line of its own.
func Line(s string) string { return escape(s, false) }

// Block is Line for multi-line text, such as an error that quotes a
// compiler's output: "\n" is kept and everything else Line escapes is
// escaped. Prefer Line for anything printed inside a line go-image formats.
func Block(s string) string { return escape(s, true) }

// Tail is Block of the last max bytes of s, spaces trimmed, marked with
// "…" when cut (on a character boundary): for a child's output quoted in
// an error, whose end says what failed and whose length is the child's
// (a hostile source makes go's stderr as long and as strange as it likes).
func Tail(s string, max int) string {
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return Block(s)
	}
	i := len(s) - max
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return "…" + Block(s[i:])
}

// Safe reports whether Line(s) == s: s has nothing to escape.
func Safe(s string) bool { return fast(s, false) }

func escape(s string, keepNewline bool) string {
	if fast(s, keepNewline) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	// start: only spaces since the beginning of s or its last newline, the
	// place a runner reads a "::" command (it trims Unicode spaces first).
	start := true
	for i := 0; i < len(s); {
		if n, esc := command(s[i:], start); n > 0 {
			b.WriteString(esc)
			i += n
			start = false
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			// A byte that is not UTF-8: a terminal may read it as C1.
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' && keepNewline:
			b.WriteByte('\n')
		case unsafe(r):
			b.WriteString(quote(r))
		default:
			b.WriteString(s[i : i+n])
		}
		start = r == '\n' || (start && unicode.Is(unicode.Zs, r))
		i += n
	}
	return b.String()
}

// command returns the length of the runner command marker s starts with
// and its escape, or 0: "##[" anywhere, "::" where a line starts.
func command(s string, start bool) (int, string) {
	switch {
	case strings.HasPrefix(s, "##["):
		return 3, `#\x23[`
	case start && strings.HasPrefix(s, "::"):
		return 2, `\x3a:`
	}
	return 0, ""
}

// fast reports whether s has nothing to escape, without allocating.
func fast(s string, keepNewline bool) bool {
	start := true
	for i := 0; i < len(s); {
		if n, _ := command(s[i:], start); n > 0 {
			return false
		}
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			start = start && c == ' '
			i++
			continue
		}
		if c == '\n' && keepNewline {
			start = true
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || unsafe(r) {
			return false
		}
		start = start && unicode.Is(unicode.Zs, r)
		i += n
	}
	return true
}

// unsafe reports a rune a terminal does not simply draw: C0 controls (tab
// and newline included: they move the cursor), DEL, C1 controls (U+0080 to
// U+009F; U+009B is a one-character CSI), format characters (bidi overrides
// and isolates, zero-width spaces and joiners, the BOM, tag characters,
// soft hyphen), line and paragraph separators, and noncharacters.
func unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r < 0x80:
		return false
	}
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || isNoncharacter(r)
}

// isNoncharacter: U+FDD0..U+FDEF and the last two code points of every
// plane are never assigned; terminals draw them inconsistently.
func isNoncharacter(r rune) bool {
	return (r >= 0xfdd0 && r <= 0xfdef) || r&0xfffe == 0xfffe
}

func quote(r rune) string {
	switch r {
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	}
	switch {
	case r < 0x80:
		return fmt.Sprintf(`\x%02x`, r)
	case r <= 0xffff:
		return fmt.Sprintf(`\u%04x`, r)
	}
	return fmt.Sprintf(`\U%08x`, r)
}

// Index returns the byte offset of the first character Line would escape
// in s, or -1: for input validation that names what it refuses. Runner
// command markers are not characters: Index ignores them (Safe does not).
func Index(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || unsafe(r) {
			return i
		}
		i += n
	}
	return -1
}

// JSON returns encoded JSON with every "##[" written "#\u0023[": the same
// value for any JSON reader, but no command for a CI runner that reads the
// JSON printed in a job's log. A JSON text holds '#' only inside strings,
// and its strings hold no raw newline, so no line of it can start with "::"
// after spaces but a quote.
func JSON(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte("##["), []byte(`#\u0023[`))
}

// Command reports the command a GitHub Actions runner reads in one line of
// a job's output, as the runner parses it (ActionCommand.TryParseV2 after
// TrimStart, then TryParse anywhere in the line), or "": for tests that
// assert go-image's output carries none.
func Command(line string) string {
	if t := strings.TrimLeftFunc(line, unicode.IsSpace); strings.HasPrefix(t, "::") {
		if end := strings.Index(t[2:], "::"); end >= 0 {
			name, _, _ := strings.Cut(t[2:2+end], " ")
			return name
		}
	}
	if i := strings.Index(line, "##["); i >= 0 {
		if end := strings.IndexByte(line[i:], ']'); end >= 0 {
			name, _, _ := strings.Cut(line[i+3:i+end], " ")
			return name
		}
	}
	return ""
}

// maxLine bounds what a Writer holds of a line without a newline: a child
// that never ends its line gets it cut and shown in pieces.
const maxLine = 64 << 10

// Writer relays a child's log (Trivy's stderr) line by line through Line:
// what the child quotes of its input can neither paint the terminal nor
// be a CI runner command. Safe for one writer at a time, as exec's pipes
// use it; Close writes the last line if it had no newline.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

func (x *Writer) Write(b []byte) (int, error) {
	x.buf = append(x.buf, b...)
	for {
		i := bytes.IndexByte(x.buf, '\n')
		if i < 0 && len(x.buf) < maxLine {
			return len(b), nil
		}
		next := i + 1
		if i < 0 {
			i, next = maxLine, maxLine
		}
		line := Line(string(x.buf[:i])) + "\n"
		x.buf = x.buf[next:]
		if _, err := io.WriteString(x.w, line); err != nil {
			return len(b), err
		}
	}
}

// Close writes what is left of the last line.
func (x *Writer) Close() error {
	if len(x.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(x.w, Line(string(x.buf))+"\n")
	x.buf = nil
	return err
}
