package report

import (
	"encoding/json"
	"io"
	"regexp"
	"strconv"
)

// SARIF renders the report's located findings as SARIF 2.1.0, for code
// scanning (GitHub, GitLab): every detail line of a failed or warned check
// that starts with a source position (file:line:col: message, as the lint
// gate writes them) becomes a result of that check's rule. Checks about
// the image rather than a source line (size, harden) have no location,
// which code scanning requires, and are left to the text and Markdown
// reports.
func (r *Report) WriteSARIF(w io.Writer) error {
	type region struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn,omitempty"`
	}
	type location struct {
		PhysicalLocation struct {
			ArtifactLocation struct {
				URI string `json:"uri"`
			} `json:"artifactLocation"`
			Region region `json:"region"`
		} `json:"physicalLocation"`
	}
	type text struct {
		Text string `json:"text"`
	}
	type result struct {
		RuleID    string     `json:"ruleId"`
		Level     string     `json:"level"`
		Message   text       `json:"message"`
		Locations []location `json:"locations"`
	}
	type rule struct {
		ID               string `json:"id"`
		ShortDescription text   `json:"shortDescription"`
	}
	rules := []rule{}
	results := []result{}
	for _, res := range r.Results {
		if res.Status != Fail && res.Status != Warn {
			continue
		}
		level := "error"
		if res.Status == Warn {
			level = "warning"
		}
		added := false
		for _, d := range res.Details {
			m := position.FindStringSubmatch(d)
			if m == nil {
				continue
			}
			var loc location
			loc.PhysicalLocation.ArtifactLocation.URI = m[1]
			loc.PhysicalLocation.Region.StartLine, _ = strconv.Atoi(m[2])
			loc.PhysicalLocation.Region.StartColumn, _ = strconv.Atoi(m[3])
			results = append(results, result{RuleID: res.ID, Level: level, Message: text{m[4]}, Locations: []location{loc}})
			added = true
		}
		if added {
			rules = append(rules, rule{ID: res.ID, ShortDescription: text{res.Message}})
		}
	}
	doc := map[string]any{
		"version": "2.1.0",
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"runs": []any{map[string]any{
			"tool":    map[string]any{"driver": map[string]any{"name": "go-image", "rules": rules}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// position is a detail line that starts with file:line[:col]: .
var position = regexp.MustCompile(`^([^\s:][^:]*):(\d+)(?::(\d+))?: (.+)$`)
