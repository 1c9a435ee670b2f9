package report

import (
	"fmt"
	"slices"
	"strings"
)

// Formats are the formats Write renders, as users name them ("md" is
// markdown too).
var Formats = []string{"text", "json", "markdown"}

// CheckFormat refuses a format before anything runs, rather than after a
// build: input names where it came from (--format, format), extra are
// formats the caller renders itself (lint's sarif). An empty format is
// refused too: every input defaults to text, so "" was given on purpose.
func CheckFormat(input, format string, extra ...string) error {
	if format == "md" || slices.Contains(Formats, format) || slices.Contains(extra, format) {
		return nil
	}
	all := append(slices.Clone(Formats), extra...)
	return fmt.Errorf("%s %q: use %s or %s", input, format, strings.Join(all[:len(all)-1], ", "), all[len(all)-1])
}
