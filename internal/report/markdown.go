package report

import (
	"html"
	"strings"

	"dagger/go-image/internal/safetext"
)

// The Markdown escapers below are written for GitHub-flavoured Markdown as
// GitHub renders a job summary: CommonMark, tables, strikethrough, math,
// and a subset of HTML. Each takes untrusted text and first makes it one
// line (safetext.Line): without a newline, no heading, list, table row,
// fence or HTML block can start; what is left is inline structure.

// mdPunct are the ASCII punctuation characters with an inline meaning:
// escape (\), emphasis (* _), strikethrough (~), links and images ([ ] !),
// math ($), table cells (|), code spans (`, handled apart). CommonMark
// turns a backslash before any ASCII punctuation into that character, so
// the escaped text shows exactly as it was.
const mdPunct = "\\*_~[]!$|"

// mdText renders a result's message in a table cell. It keeps go-image's
// own code spans (`upx`, `trivy image --download-db-only`): a pair of
// single backticks with no backtick between them stays a code span, in
// which nothing is interpreted. Every other backtick is escaped, so no
// span can open that swallows what follows. Outside spans, Markdown
// punctuation is backslash-escaped and <, >, & become HTML entities: no
// tag, link, image, emphasis or autolink in an image's file name renders.
func mdText(s string) string {
	s = safetext.Line(s)
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '`' {
			run := backtickRun(s[i:])
			if run == 1 {
				// A backslash ends the span's protection in a table: GFM
				// reads "\\" as an escaped backslash before it reads "\|",
				// so a pipe after one would split the cell. Such text is
				// escaped character by character instead.
				if j := strings.IndexByte(s[i+1:], '`'); j >= 0 && backtickRun(s[i+1+j:]) == 1 && !strings.Contains(s[i+1:i+1+j], `\`) {
					b.WriteString("`" + strings.ReplaceAll(s[i+1:i+1+j], "|", `\|`) + "`")
					i += j + 2
					continue
				}
			}
			b.WriteString(strings.Repeat("\\`", run))
			i += run
			continue
		}
		mdChar(&b, s[i])
		i++
	}
	return b.String()
}

// mdChar writes one byte outside a code span, escaped. Multi-byte UTF-8
// sequences pass byte by byte: none of their bytes is ASCII.
func mdChar(b *strings.Builder, c byte) {
	switch {
	case c == '<':
		b.WriteString("&lt;")
	case c == '>':
		b.WriteString("&gt;")
	case c == '&':
		b.WriteString("&amp;")
	case strings.IndexByte(mdPunct, c) >= 0:
		b.WriteByte('\\')
		b.WriteByte(c)
	default:
		b.WriteByte(c)
	}
}

// longestRun is the length of the longest run of backticks in s.
func longestRun(s string) int {
	longest := 0
	for i := 0; i < len(s); i++ {
		if n := backtickRun(s[i:]); n > 0 {
			longest = max(longest, n)
			i += n - 1
		}
	}
	return longest
}

func backtickRun(s string) int {
	n := 0
	for n < len(s) && s[n] == '`' {
		n++
	}
	return n
}

// mdCode renders untrusted text as one code span: it is opened and closed
// by one more backtick than the longest run inside it, so its content
// cannot close it, and padded with a space when it starts or ends with a
// backtick (CommonMark strips one space each side). "|" is escaped, as a
// GFM table requires even inside code.
func mdCode(s string) string {
	s = safetext.Line(s)
	if strings.Contains(s, `\`) {
		// In a table, "\\|" is an escaped backslash and a cell border,
		// code span or not: such text is escaped as a message is.
		return mdText(s)
	}
	s = strings.ReplaceAll(s, "|", `\|`)
	fence := strings.Repeat("`", longestRun(s)+1)
	switch {
	case s == "":
		s = " "
	case strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`"):
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdHTML renders untrusted text inside go-image's own HTML (the details'
// summary), where Markdown is not interpreted but tags and entities are.
func mdHTML(s string) string { return html.EscapeString(safetext.Line(s)) }

// mdFence renders lines as one fenced code block, in which Markdown and
// HTML are shown literally. Its fence is longer than any backtick run in
// the lines, so no line can close it early (CommonMark closes a fence only
// with a run at least as long as the opening one).
func mdFence(lines []string) string {
	longest := 0
	safe := make([]string, len(lines))
	for i, l := range lines {
		safe[i] = safetext.Line(l)
		longest = max(longest, longestRun(safe[i]))
	}
	fence := strings.Repeat("`", max(3, longest+1))
	return fence + "\n" + strings.Join(safe, "\n") + "\n" + fence + "\n"
}
