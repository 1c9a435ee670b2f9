package attest

import (
	"time"

	"dagger/go-image/internal/report"
)

// GateReport is the predicate of GateReportType: the report of every gate
// that ran on the digest, in the shape `--report FILE --format json`
// writes (image, passed, summary, results: ids, verdicts, messages,
// metrics, and the tool behind each verdict), plus what judged it: the
// tools with their versions and data dates (Trivy's DB), the builder and
// when the gates finished. An admission policy admits a digest whose
// signed gate report has passed true and no result with status "fail".
type GateReport struct {
	Image   string          `json:"image"`
	Passed  bool            `json:"passed"`
	Summary string          `json:"summary"`
	Results []report.Result `json:"results"`
	Tools   []report.Tool   `json:"tools"`
	// Builder is the provenance's builder id (BuilderCLI, BuilderDagger).
	Builder        string     `json:"builder"`
	GoImageVersion string     `json:"goImageVersion,omitempty"`
	FinishedOn     *time.Time `json:"finishedOn,omitempty"`
	// Settings are the choices the gates ran with and where each came
	// from: the policy a verifier sees was applied.
	Settings []report.Setting `json:"settings,omitempty"`
}

// NewGateReport is the gate report of image (repo@sha256:…) as rep holds
// it, with the tools of b: go-image, the Go toolchain that compiled the
// service, and each tool a verdict came from.
func NewGateReport(rep *report.Report, image string, b Build) GateReport {
	g := GateReport{
		Image:   image,
		Passed:  len(rep.Failed()) == 0,
		Summary: rep.Summary(),
		Results: append([]report.Result(nil), rep.Results...),
		Builder: b.BuilderID, GoImageVersion: b.GoImageVersion, FinishedOn: utc(b.FinishedOn),
		Settings: append([]report.Setting(nil), rep.Settings...),
	}
	g.Tools = append(g.Tools, report.Tool{Name: "go-image", Version: b.GoImageVersion})
	for _, d := range b.Dependencies {
		if d.Name == "go" {
			g.Tools = append(g.Tools, report.Tool{Name: "go", Version: d.Annotations["goVersion"]})
		}
	}
	g.Tools = append(g.Tools, rep.Tools()...)
	return g
}

// Failed returns the failed checks. A report that says it did not pass
// but lists no failure counts as failed too: the verdict is read from
// both, never from the flag alone.
func (g GateReport) Failed() []report.Result {
	var out []report.Result
	for _, r := range g.Results {
		if r.Status == report.Fail {
			out = append(out, r)
		}
	}
	if len(out) == 0 && !g.Passed {
		out = append(out, report.Result{ID: "report", Status: report.Fail, Message: "the report says it did not pass"})
	}
	return out
}
