package scan

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// IgnoreList is an ignore file in Trivy's .trivyignore format: one
// vulnerability ID per line, "#" comment lines, and an optional
// "exp:YYYY-MM-DD" field after the ID after which the entry no longer
// applies (from 00:00 UTC that day, as in Trivy).
//
// go-image reads it itself rather than handing it to Trivy, so the verdict
// and the reasons in the report do not depend on how Trivy was run. The
// comment lines right above an entry are kept as its reason. Unlike Trivy,
// which skips a line whose date does not parse (and so stops ignoring that
// ID, with only a log warning), a malformed line is an error here.
type IgnoreList struct {
	// Path names the file in reasons, e.g. ".trivyignore".
	Path    string
	Entries []IgnoreEntry
}

// IgnoreEntry is one accepted vulnerability.
type IgnoreEntry struct {
	ID string
	// Expires is when the entry stops applying; zero means never.
	Expires time.Time
	// Line is the entry's 1-based line number in the file.
	Line int
	// Reason is the comment block right above the entry.
	Reason string
	source string
}

// ReadIgnoreFile reads an ignore file in .trivyignore format.
func ReadIgnoreFile(path string) (*IgnoreList, error) {
	if err := checkIgnoreName(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ignore file: %w", err)
	}
	return ParseIgnoreFile(path, data)
}

// ParseIgnoreFile parses the contents of the ignore file at path, however
// the executor read it (from disk, from a Dagger directory); reasons and
// errors name it by its base name.
func ParseIgnoreFile(path string, data []byte) (*IgnoreList, error) {
	if err := checkIgnoreName(path); err != nil {
		return nil, err
	}
	return ParseIgnore(filepath.Base(path), data)
}

func checkIgnoreName(path string) error {
	if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
		return fmt.Errorf("ignore file %s: the YAML form of .trivyignore is not supported; list one ID per line (with an optional exp:YYYY-MM-DD) in a .trivyignore file", path)
	}
	return nil
}

// ParseIgnore parses ignore-file contents; name is used in reasons and errors.
func ParseIgnore(name string, data []byte) (*IgnoreList, error) {
	l := &IgnoreList{Path: name}
	var comment []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			comment = nil
			continue
		case strings.HasPrefix(line, "#"):
			if c := strings.TrimSpace(strings.TrimLeft(line, "#")); c != "" {
				comment = append(comment, c)
			}
			continue
		}
		fields := strings.Fields(line)
		e := IgnoreEntry{ID: fields[0], Line: n, Reason: strings.Join(comment, " "), source: fmt.Sprintf("%s:%d", name, n)}
		comment = nil
		for _, f := range fields[1:] {
			if d, ok := strings.CutPrefix(f, "exp:"); ok {
				t, err := time.Parse(time.DateOnly, d)
				if err != nil {
					return nil, fmt.Errorf("%s: expiry %q of %s: want exp:YYYY-MM-DD", e.source, d, e.ID)
				}
				e.Expires = t
				break // Trivy reads the first exp: field only
			}
		}
		l.Entries = append(l.Entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ignore file %s: %w", name, err)
	}
	return l, nil
}

// match returns the entry for id, preferring one still in force, and
// whether the returned entry has expired at now.
func (l *IgnoreList) match(id string, now time.Time) (*IgnoreEntry, bool) {
	if l == nil {
		return nil, false
	}
	var stale *IgnoreEntry
	for i := range l.Entries {
		e := &l.Entries[i]
		if e.ID != id {
			continue
		}
		if e.Expires.IsZero() || !e.Expires.Before(now) {
			return e, false
		}
		stale = e
	}
	return stale, stale != nil
}

func (e *IgnoreEntry) describe() string {
	s := e.source
	if !e.Expires.IsZero() {
		s += " exp:" + e.Expires.Format(time.DateOnly)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}
