package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLintFormatSARIF: `lint --format sarif` writes the findings as SARIF
// 2.1.0 results located at their source line, which code scanning requires.
func TestLintFormatSARIF(t *testing.T) {
	out := filepath.Join(t.TempDir(), "lint.sarif")
	code, _, stderr := goImage(t, "lint", "--source", "../../testdata/k8s/shutdown-no-timeout", "--format", "sarif", "--output", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (a finding):\n%s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine, StartColumn int }
					}
				}
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2.1.0" || len(doc.Runs) != 1 || len(doc.Runs[0].Results) == 0 {
		t.Fatalf("SARIF:\n%s", b)
	}
	deadline := false
	for _, r := range doc.Runs[0].Results {
		loc := r.Locations[0].PhysicalLocation
		rules := doc.Runs[0].Tool.Driver.Rules
		if r.RuleID != "httpshutdown" || r.Level != "error" || loc.ArtifactLocation.URI != "main.go" || loc.Region.StartLine == 0 ||
			r.RuleIndex >= len(rules) || rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %+v\n%s", r, b)
		}
		deadline = deadline || strings.Contains(r.Message.Text, "no deadline")
	}
	if !deadline {
		t.Errorf("no result for the Shutdown without a deadline:\n%s", b)
	}
	// A clean service: valid SARIF with no results.
	code, stdout, _ := goImage(t, "lint", "--source", "../../testdata/service", "--format", "sarif")
	if code != 0 || !strings.Contains(stdout, `"results": []`) {
		t.Errorf("clean service: exit %d\n%s", code, stdout)
	}
}
