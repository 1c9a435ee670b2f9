package main

import "strings"

// printerWidth is the line width of Dagger's SDL printer
// (cmd/introspect/schema.go: formatDescription uses 120-len(indent)).
const printerWidth = 120

// Unwrap undoes the line breaking that Dagger's SDL printer applies to long
// description lines (cmd/introspect/schema.go, descriptionLines/breakLine):
// a line of at least maxLen+5 bytes is cut greedily at spaces into chunks of
// at most maxLen-40 bytes. A run of lines is joined back (with single
// spaces) only when re-applying that exact algorithm to the joined line
// gives back exactly the same lines, and not in a paragraph that was
// evidently wrapped by hand (see below), so hand-written line breaks survive
// unless they happen to be indistinguishable from the printer's own.
//
// Checked for v0.21.8: `codegen generate-library` fed with the JSON made
// from the SDL reproduces dagger.io/dagger@v0.21.8's dagger.gen.go and
// dag/dag.gen.go byte for byte.
func Unwrap(desc string, maxLen int) string {
	if desc == "" {
		return desc
	}
	lines := strings.Split(desc, "\n")
	// hardWrapped[i]: line i is in a paragraph (lines between blank lines)
	// where the author evidently broke lines by hand: some line other than
	// the paragraph's last is longer than a printer chunk yet too short to
	// have been cut by the printer.
	hardWrapped := make([]bool, len(lines))
	for start := 0; start < len(lines); {
		end := start
		for end < len(lines) && lines[end] != "" {
			end++
		}
		hard := false
		for k := start; k < end-1; k++ {
			if n := len(lines[k]); n > maxLen-40 && n < maxLen+5 {
				hard = true
			}
		}
		for k := start; k < end; k++ {
			hardWrapped[k] = hard
		}
		start = end + 1
	}
	var out []string
	for i := 0; i < len(lines); {
		best := i
		for j := i + 1; j < len(lines) && !hardWrapped[i]; j++ {
			if len(lines[j-1]) > maxLen-40 || lines[j] == "" {
				// a chunk is never longer than maxLen-40, nor empty
				break
			}
			joined := strings.Join(lines[i:j+1], " ")
			if len(joined) >= maxLen+5 && equal(breakLine(joined, maxLen), lines[i:j+1]) {
				best = j
			}
		}
		out = append(out, strings.Join(lines[i:best+1], " "))
		i = best + 1
	}
	return strings.Join(out, "\n")
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// breakLine is a copy of the printer's breakLine (cmd/introspect/schema.go of
// github.com/dagger/dagger v0.21.8).
func breakLine(line string, maxLen int) []string {
	minSize, maxSize := 15, maxLen-40
	if len(line) <= maxSize {
		return []string{line}
	}

	var chunks []string
	remaining := line

	for len(remaining) > 0 {
		end := min(len(remaining), maxSize)
		if end == len(remaining) {
			chunks = append(chunks, remaining)
			break
		}
		if idx := strings.LastIndex(remaining[:end+1], " "); idx >= minSize {
			chunks = append(chunks, remaining[:idx])
			remaining = remaining[idx+1:]
		} else {
			chunks = append(chunks, remaining[:end])
			remaining = remaining[end:]
		}
	}

	return chunks
}
