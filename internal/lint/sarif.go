package lint

import (
	"encoding/json"
	"net/url"
	"path/filepath"

	"golang.org/x/tools/go/analysis"

	"dagger/go-image/internal/safetext"
)

// SARIF renders findings as a SARIF 2.1.0 log for code scanning (GitHub
// shows the results inline on the pull request): one rule per analyzer,
// level error for deny and warning for warn, and a suppressed finding with
// its in-source suppression and justification, so code scanning shows it as
// dismissed rather than losing it. Paths are relative to dir, the module
// root, under %SRCROOT%. The CLI's lint --sarif and the Dagger module write
// the same bytes for the same findings.
func SARIF(dir string, as []*analysis.Analyzer, fs []Finding, p Policy) ([]byte, error) {
	type text struct {
		Text string `json:"text"`
	}
	type rule struct {
		ID                   string `json:"id"`
		ShortDescription     text   `json:"shortDescription"`
		FullDescription      text   `json:"fullDescription"`
		DefaultConfiguration struct {
			Level string `json:"level"`
		} `json:"defaultConfiguration"`
	}
	type region struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn,omitempty"`
	}
	type location struct {
		PhysicalLocation struct {
			ArtifactLocation struct {
				URI       string `json:"uri"`
				URIBaseID string `json:"uriBaseId,omitempty"`
			} `json:"artifactLocation"`
			Region region `json:"region"`
		} `json:"physicalLocation"`
	}
	type suppression struct {
		Kind          string `json:"kind"`
		Justification string `json:"justification"`
	}
	type result struct {
		RuleID       string        `json:"ruleId"`
		RuleIndex    int           `json:"ruleIndex"`
		Level        string        `json:"level"`
		Message      text          `json:"message"`
		Locations    []location    `json:"locations"`
		Suppressions []suppression `json:"suppressions,omitempty"`
	}
	level := func(name string) string {
		if p.Severity(name) == Warn {
			return "warning"
		}
		return "error"
	}
	var rules []rule
	index := map[string]int{}
	for _, a := range as {
		r := rule{ID: a.Name, ShortDescription: text{firstLine(a.Doc)}, FullDescription: text{a.Doc}}
		r.DefaultConfiguration.Level = level(a.Name)
		index[a.Name] = len(rules)
		rules = append(rules, r)
	}
	results := []result{}
	for _, f := range fs {
		i, ok := index[f.Analyzer]
		if !ok {
			continue
		}
		r := result{RuleID: f.Analyzer, RuleIndex: i, Level: level(f.Analyzer), Message: text{f.Message}}
		var loc location
		pos := relPos(dir, f.Pos)
		// A URI, not a path: a file named auth%2Fhandler.go or q#x.go
		// would otherwise point code scanning at another file.
		u := url.URL{Path: filepath.ToSlash(pos.Filename)}
		if inside(pos.Filename) {
			loc.PhysicalLocation.ArtifactLocation.URIBaseID = "%SRCROOT%"
		} else {
			u.Scheme = "file"
		}
		loc.PhysicalLocation.ArtifactLocation.URI = u.String()
		loc.PhysicalLocation.Region = region{StartLine: max(pos.Line, 1), StartColumn: pos.Column}
		r.Locations = []location{loc}
		if f.Suppressed != "" {
			r.Suppressions = []suppression{{Kind: "inSource", Justification: f.Suppressed}}
		}
		results = append(results, r)
	}
	type driver struct {
		Name  string `json:"name"`
		Rules []rule `json:"rules"`
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool":    map[string]any{"driver": driver{Name: "go-image lint", Rules: rules}},
			"results": results,
		}},
	}
	b, err := json.MarshalIndent(log, "", "  ")
	if err != nil {
		return nil, err
	}
	// Printed by lint --format sarif, it is a CI log's too: no "##[".
	return safetext.JSON(b), nil
}
