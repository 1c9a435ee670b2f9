package report

import (
	"fmt"
	"io"
	"strings"

	"dagger/go-image/internal/safetext"
)

// Image is one image's report in a call that gates several (the binaries
// of a monorepo).
type Image struct {
	// Name is the binary's name.
	Name string `json:"name"`
	// Digest is the image's digest, "" when it was not built.
	Digest string  `json:"digest,omitempty"`
	Report *Report `json:"report"`
}

// Gates are the columns of the summary table: the standard gates, in
// the order they run.
var Gates = []string{"size", "scan", "upx", "harden", "lint", "smoke"}

// Verdict is the gate's verdict over its results: fail over warn over
// pass over skipped; "" when the gate did not run.
func (r *Report) Verdict(gate string) Status {
	rank := map[Status]int{Skipped: 1, Pass: 2, Warn: 3, Fail: 4}
	var v Status
	for _, res := range r.Results {
		if res.Gate == gate && rank[res.Status] > rank[v] {
			v = res.Status
		}
	}
	return v
}

// compressed is the size gate's measure of the image, -1 when it did not
// measure it.
func (r *Report) compressed() float64 {
	for _, res := range r.Results {
		if v, ok := res.Metrics["compressed_bytes"]; ok && res.Gate == "size" {
			return v
		}
	}
	return -1
}

// Images are the reports of several images: each one in full, then the
// summary table.
type Images []Image

// Err is nil when every image passed, else a *GateError of every
// failure, each named after its binary.
func (is Images) Err() error {
	var failed []Result
	for _, i := range is {
		for _, f := range i.Report.Failed() {
			f.ID = i.Name + ": " + f.ID
			failed = append(failed, f)
		}
	}
	if len(failed) > 0 {
		return &GateError{Failed: failed}
	}
	return nil
}

// Write renders every report, then the summary, in the named format;
// JSON is one document: {"images": [...], "passed": …}.
func (is Images) Write(w io.Writer, format string) error {
	if format == "json" {
		type img struct {
			Image
			Passed bool `json:"passed"`
		}
		out := struct {
			Images []img `json:"images"`
			Passed bool  `json:"passed"`
		}{Passed: is.Err() == nil}
		for _, i := range is {
			out.Images = append(out.Images, img{i, i.Report.Err() == nil})
		}
		return writeJSON(w, out)
	}
	for _, i := range is {
		r := *i.Report
		if r.Image == "" {
			r.Image = i.Name
		}
		if err := r.Write(w, format); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
	}
	return is.WriteSummary(w, format)
}

// WriteSummary writes the table of the images: binary, digest, compressed
// size (what the size gate measured; its column is the gate's verdict) and
// the verdict of each gate. Text for a terminal, markdown for a job summary.
func (is Images) WriteSummary(w io.Writer, format string) error {
	header := append([]string{"binary", "digest", "compressed"}, Gates...)
	rows := make([][]string, len(is))
	for n, i := range is {
		size := "-"
		if c := i.Report.compressed(); c >= 0 {
			size = humanBytes(c)
		}
		digest := i.Digest
		if len(digest) > len("sha256:")+12 {
			digest = digest[:len("sha256:")+12]
		}
		if digest == "" {
			digest = "-"
		}
		row := []string{i.Name, digest, size}
		for _, g := range Gates {
			row = append(row, string(i.Report.Verdict(g)))
		}
		rows[n] = row
	}
	var b strings.Builder
	switch format {
	case "markdown", "md":
		b.WriteString("## go-image summary\n\n| " + strings.Join(header, " | ") + " |\n|" + strings.Repeat("---|", len(header)) + "\n")
		for _, row := range rows {
			cells := make([]string, len(row))
			for c, v := range row {
				switch {
				case c == 0 || c == 1:
					cells[c] = mdCode(v)
				case c >= 3 && v == "":
					cells[c] = "-"
				case c >= 3:
					cells[c] = mdMark[Status(v)]
				default:
					cells[c] = mdText(v)
				}
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
		fmt.Fprintf(&b, "\n**%s**\n", is.summaryLine())
	case "", "text":
		widths := make([]int, len(header))
		for c, h := range header {
			widths[c] = len(h)
			for _, row := range rows {
				row[c] = safetext.Line(row[c])
				if c >= 3 {
					row[c] = textMark[Status(row[c])]
				}
				if row[c] == "" {
					row[c] = "-"
				}
				widths[c] = max(widths[c], len(row[c]))
			}
		}
		line := func(cells []string) {
			for c, v := range cells {
				fmt.Fprintf(&b, "%-*s", widths[c]+2, v)
			}
			b.WriteString("\n")
		}
		line(header)
		for _, row := range rows {
			line(row)
		}
		b.WriteString(is.summaryLine() + "\n")
	default:
		return fmt.Errorf("report format %q: use text, json or markdown", format)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (is Images) summaryLine() string {
	failed := 0
	for _, i := range is {
		if i.Report.Err() != nil {
			failed++
		}
	}
	verdict := "PASS"
	if failed > 0 {
		verdict = "FAIL"
	}
	return fmt.Sprintf("%s: %d images, %d passed every gate, %d failed", verdict, len(is), len(is)-failed, failed)
}
