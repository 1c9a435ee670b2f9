package lint

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/token"
	"io"
	"strconv"
	"strings"
)

// ParseVetJSON reads the output of `go vet -vettool=k8slint -json ./...`:
// a stream of {"pkg": {"analyzer": [diagnostics] | {"error": …}}} objects,
// printed indented (each object's first and last lines are its braces, the
// rest starts with a tab), possibly interleaved with lines of another
// shape: "# pkg" headers, the go command's notes ("go: downloading …"),
// and those of whatever else shares its stderr (the build cache program's
// "go-image: build cache …"). Those are skipped. It is how the Dagger module
// lints inside a builder container, where the analyzers run as a vet tool.
// Suppressed findings keep their reason (the diagnostic's category and
// related information), so Policy.Results gives the same verdicts on these
// findings as on Analyze's.
func ParseVetJSON(r io.Reader) ([]Finding, error) {
	var clean bytes.Buffer
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64*1024), 16<<20)
	for s.Scan() {
		if !jsonLine(s.Text()) {
			continue
		}
		clean.Write(s.Bytes())
		clean.WriteByte('\n')
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(&clean)
	var out []Finding
	for {
		var tree map[string]map[string]json.RawMessage
		err := dec.Decode(&tree)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("go vet -json output: %w", err)
		}
		for pkg, byAnalyzer := range tree {
			for analyzer, raw := range byAnalyzer {
				var failed struct{ Error string }
				if json.Unmarshal(raw, &failed) == nil && failed.Error != "" {
					return nil, fmt.Errorf("%s on %s: %s", analyzer, pkg, failed.Error)
				}
				var diags []struct {
					Posn, Message, Category string
					Related                 []struct{ Posn, Message string }
				}
				if err := json.Unmarshal(raw, &diags); err != nil {
					return nil, fmt.Errorf("go vet -json output for %s/%s: %w", pkg, analyzer, err)
				}
				for _, d := range diags {
					f := Finding{Analyzer: analyzer, Pos: parsePosn(d.Posn), Message: d.Message}
					if d.Category == CategorySuppressed && len(d.Related) > 0 {
						f.Suppressed = d.Related[0].Message
					}
					out = append(out, f)
				}
			}
		}
	}
	sortFindings(out)
	return out, nil
}

// jsonLine reports whether a line of go vet's output belongs to one of
// its JSON objects: a brace, or an indented line within.
func jsonLine(l string) bool {
	return l != "" && strings.ContainsRune("{}[]\t ", rune(l[0]))
}

// parsePosn parses "file:line:col".
func parsePosn(s string) token.Position {
	p := token.Position{Filename: s}
	rest, col, ok := cut(s)
	if !ok {
		return p
	}
	file, line, ok := cut(rest)
	if !ok {
		p.Filename, p.Line = rest, col
		return p
	}
	return token.Position{Filename: file, Line: line, Column: col}
}

func cut(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return s, 0, false
	}
	return s[:i], n, true
}
