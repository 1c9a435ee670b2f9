// Package safetext makes text that comes from an image, a source tree, a
// registry or a running service safe to show on a terminal. Such text is
// written by whoever built the image: a file name holding "\x1b[2K\r[PASS]"
// would otherwise erase go-image's own "[FAIL]" on screen, a U+202E would
// reverse what follows it, and a "\n" would start a line go-image never
// wrote. Every character that moves the cursor, changes the display or is
// invisible is replaced by a visible Go-style escape (\x1b, \r, \u202e);
// everything printable, any script, is kept as it is.
//
// JSON and SARIF never need this: their encoders escape control characters,
// and their readers want the exact bytes.
package safetext

import (
	"fmt"
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
func Safe(s string) bool { return Index(s) < 0 }

func escape(s string, keepNewline bool) string {
	if fast(s, keepNewline) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
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
		i += n
	}
	return b.String()
}

// fast reports whether s has nothing to escape, without allocating.
func fast(s string, keepNewline bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if c == '\n' && keepNewline {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || unsafe(r) {
			return false
		}
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
// in s, or -1: for input validation that names what it refuses.
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
