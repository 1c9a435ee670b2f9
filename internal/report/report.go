// Package report is the one result format of every gate: each check yields a
// Result, and a Report renders them for a terminal, a machine, or a CI job
// summary. Gates never print; they return Results.
//
// Every string of a Result is untrusted: a message quotes file names, layer
// history, labels, a service's output, Trivy's titles, all written by
// whoever built the image or the source. The text and Markdown renderers
// escape them (control characters, Markdown and HTML), so nothing in an
// image can repaint a failed check as passed; gates need not escape
// anything. JSON keeps the exact strings: it is data, escaped by its
// encoder.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"dagger/go-image/internal/safetext"
)

// Status is a check's verdict.
type Status string

const (
	Pass    Status = "pass"
	Warn    Status = "warn"
	Fail    Status = "fail"
	Skipped Status = "skipped"
)

// Result is one check's verdict.
type Result struct {
	// Gate is the gate the check belongs to: size, scan, upx, harden, smoke, lint.
	Gate string `json:"gate"`
	// ID names the check, stable across releases, e.g. "harden/user-nonroot".
	ID      string `json:"id"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	// Details are lines that explain the verdict: a layer breakdown, findings.
	Details []string `json:"details,omitempty"`
	// Metrics are measured figures (bytes, seconds) behind the verdict.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Tool is the external tool the verdict came from, if any (Trivy for
	// scan), so a report kept as an attestation says which version and
	// which data judged the image.
	Tool *Tool `json:"tool,omitempty"`
}

// Tool is an external tool behind a verdict.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// DataUpdated is when the tool's data was built: Trivy's vulnerability
	// DB. A pass is only as current as this date.
	DataUpdated *time.Time `json:"dataUpdated,omitempty"`
}

func (t Tool) String() string {
	s := t.Name
	if t.Version != "" {
		s += " " + t.Version
	}
	if t.DataUpdated != nil {
		s += ", data of " + t.DataUpdated.UTC().Format(time.RFC3339)
	}
	return s
}

// Report collects Results in the order the gates ran.
type Report struct {
	Image   string   `json:"image,omitempty"`
	Results []Result `json:"results"`
	// Settings are the choices the gates ran with and where each came
	// from; the text and Markdown reports show those not left at their
	// default.
	Settings []Setting `json:"settings,omitempty"`
}

// Setting is one choice behind a report: its field (gates.maxSize), its
// value as a policy file writes it, and where it came from ("default",
// "file go-image.yaml:4:12", "flag --max-size").
type Setting struct {
	Field string `json:"field"`
	Value string `json:"value"`
	From  string `json:"from"`
}

// chosen are the settings not left at their default.
func (r *Report) chosen() []Setting {
	var out []Setting
	for _, s := range r.Settings {
		if !strings.HasPrefix(s.From, "default") {
			out = append(out, s)
		}
	}
	return out
}

// Add appends results.
func (r *Report) Add(rs ...Result) { r.Results = append(r.Results, rs...) }

// Count returns how many results have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// Failed returns the failed results.
func (r *Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == Fail {
			out = append(out, res)
		}
	}
	return out
}

// GateError is returned when at least one check failed.
type GateError struct{ Failed []Result }

func (e *GateError) Error() string {
	ids := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		// One line per failure, whatever the message holds.
		ids[i] = safetext.Line(f.ID + ": " + f.Message)
	}
	return fmt.Sprintf("%d gate check(s) failed:\n  %s", len(e.Failed), strings.Join(ids, "\n  "))
}

// Err is nil when nothing failed, else a *GateError naming each failure.
func (r *Report) Err() error {
	if f := r.Failed(); len(f) > 0 {
		return &GateError{Failed: f}
	}
	return nil
}

// Tools returns the distinct tools behind the results, in order of first use.
func (r *Report) Tools() []Tool {
	var out []Tool
	seen := map[string]bool{}
	for _, res := range r.Results {
		if res.Tool == nil || seen[res.Tool.String()] {
			continue
		}
		seen[res.Tool.String()] = true
		out = append(out, *res.Tool)
	}
	return out
}

// Summary is the one-line tally.
func (r *Report) Summary() string {
	verdict := "PASS"
	if len(r.Failed()) > 0 {
		verdict = "FAIL"
	}
	return fmt.Sprintf("%s: %d passed, %d warned, %d failed, %d skipped",
		verdict, r.Count(Pass), r.Count(Warn), r.Count(Fail), r.Count(Skipped))
}

var textMark = map[Status]string{Pass: "PASS", Warn: "WARN", Fail: "FAIL", Skipped: "SKIP"}

// WriteText renders the report for a terminal. Every line starts with
// go-image's own mark or indentation; what the results say is escaped
// (safetext.Line), so it can neither start a line nor move the cursor.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	line := safetext.Line
	if r.Image != "" {
		fmt.Fprintf(&b, "go-image report for %s\n", line(r.Image))
	}
	if chosen := r.chosen(); len(chosen) > 0 {
		b.WriteString("choices (every other one is its default):\n")
		for _, s := range chosen {
			fmt.Fprintf(&b, "       %s = %s  (%s)\n", line(s.Field), line(s.Value), line(s.From))
		}
	}
	for _, res := range r.Results {
		fmt.Fprintf(&b, "[%s] %-28s %s\n", textMark[res.Status], line(res.ID), line(res.Message))
		for _, d := range res.Details {
			fmt.Fprintf(&b, "       %s\n", line(d))
		}
		if len(res.Metrics) > 0 {
			fmt.Fprintf(&b, "       metrics: %s\n", line(formatMetrics(res.Metrics)))
		}
		if res.Tool != nil {
			fmt.Fprintf(&b, "       tool: %s\n", line(res.Tool.String()))
		}
	}
	fmt.Fprintln(&b, r.Summary())
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON renders the report for machines.
func (r *Report) WriteJSON(w io.Writer) error {
	out := struct {
		*Report
		Passed  bool   `json:"passed"`
		Summary string `json:"summary"`
	}{r, len(r.Failed()) == 0, r.Summary()}
	return writeJSON(w, out)
}

// writeJSON writes v indented, every "##[" escaped (safetext.JSON): the
// JSON reads back the same, and a CI log showing it runs no command.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(safetext.JSON(b), '\n'))
	return err
}

var mdMark = map[Status]string{Pass: "✅ pass", Warn: "⚠️ warn", Fail: "❌ fail", Skipped: "⏭️ skipped"}

// WriteMarkdown renders the report for a CI job summary. The structure
// (heading, verdict, table, details) is go-image's; result strings are
// escaped for where they land: table cells (mdText, mdCode), HTML
// (mdHTML) and fenced blocks (mdFence).
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	title := "go-image report"
	if r.Image != "" {
		title += " for " + mdCode(r.Image)
	}
	fmt.Fprintf(&b, "## %s\n\n**%s**\n\n", title, r.Summary())
	if chosen := r.chosen(); len(chosen) > 0 {
		b.WriteString("| choice | value | from |\n|---|---|---|\n")
		for _, s := range chosen {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", mdCode(s.Field), mdCode(s.Value), mdText(s.From))
		}
		b.WriteString("\n")
	}
	b.WriteString("| check | status | message |\n|---|---|---|\n")
	for _, res := range r.Results {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", mdCode(res.ID), mdMark[res.Status], mdText(res.Message))
	}
	for _, res := range r.Results {
		if len(res.Details) == 0 && len(res.Metrics) == 0 && res.Tool == nil {
			continue
		}
		lines := append([]string(nil), res.Details...)
		if len(res.Metrics) > 0 {
			lines = append(lines, "metrics: "+formatMetrics(res.Metrics))
		}
		if res.Tool != nil {
			lines = append(lines, "tool: "+res.Tool.String())
		}
		fmt.Fprintf(&b, "\n<details><summary><code>%s</code></summary>\n\n", mdHTML(res.ID))
		b.WriteString(mdFence(lines))
		b.WriteString("\n</details>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Write renders in the named format: text, json, markdown or sarif.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "", "text":
		return r.WriteText(w)
	case "json":
		return r.WriteJSON(w)
	case "markdown", "md":
		return r.WriteMarkdown(w)
	}
	return fmt.Errorf("report format %q: use text, json or markdown", format)
}

// formatMetrics renders metrics for people: whole numbers in full (never
// 5.59109e+06), with the unit the key's suffix names, and byte counts also
// in decimal multiples. JSON keeps the raw numbers.
func formatMetrics(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + formatMetric(k, m[k])
	}
	return strings.Join(parts, " ")
}

func formatMetric(key string, v float64) string {
	n := strconv.FormatFloat(v, 'f', -1, 64)
	switch {
	case strings.HasSuffix(key, "_bytes"):
		n = strconv.FormatFloat(math.Round(v), 'f', 0, 64) + " B"
		if v >= 1000 {
			n += " (" + humanBytes(v) + ")"
		}
	case strings.HasSuffix(key, "_seconds"):
		n = strconv.FormatFloat(v, 'f', -1, 64) + " s"
	case strings.HasSuffix(key, "_hours"):
		n += " h"
	}
	return n
}

// humanBytes is v in kB, MB or GB (decimal, as the size gate's budget is
// written), to three significant digits.
func humanBytes(v float64) string {
	units := []string{"kB", "MB", "GB", "TB"}
	u := -1
	for v >= 1000 && u < len(units)-1 {
		v /= 1000
		u++
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + " " + units[u]
}
