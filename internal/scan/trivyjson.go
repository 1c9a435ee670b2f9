// Package scan is go-image's vulnerability gate. Trivy finds the
// vulnerabilities; this package decides: it reads Trivy's JSON report and
// applies go-image's policy (severity threshold, ignore-unfixed, ignore file)
// in Go, so the CLI and the Dagger module, which run Trivy differently, reach
// the same verdict from the same report.
package scan

import (
	"encoding/json"
	"fmt"
)

// TrivyReport is the part of Trivy's JSON report (SchemaVersion 2) the gate
// reads. Unknown fields are ignored, so newer Trivy releases still parse.
type TrivyReport struct {
	SchemaVersion int           `json:"SchemaVersion"`
	ArtifactName  string        `json:"ArtifactName"`
	Results       []TrivyResult `json:"Results"`
}

// TrivyResult is one scanned target: an OS package database or a file such
// as a Go binary (Class "lang-pkgs", Type "gobinary").
type TrivyResult struct {
	Target          string          `json:"Target"`
	Class           string          `json:"Class"`
	Type            string          `json:"Type"`
	Vulnerabilities []Vulnerability `json:"Vulnerabilities"`
}

// Vulnerability is one detected vulnerability of one installed package.
type Vulnerability struct {
	VulnerabilityID  string `json:"VulnerabilityID"`
	PkgName          string `json:"PkgName"`
	InstalledVersion string `json:"InstalledVersion"`
	FixedVersion     string `json:"FixedVersion"`
	Severity         string `json:"Severity"`
	Title            string `json:"Title"`
	// Status is Trivy's fix status: "fixed" when a fixed version exists,
	// otherwise "affected", "will_not_fix", "fix_deferred", ...
	Status string `json:"Status"`
}

// supportedSchema is the JSON report schema this package understands. Trivy
// bumps it on incompatible changes; refusing another version beats
// misreading it as "no vulnerabilities".
const supportedSchema = 2

// ParseReport parses Trivy's `--format json` output.
func ParseReport(data []byte) (*TrivyReport, error) {
	var r TrivyReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("parse Trivy JSON report: %w", err)
	}
	if r.SchemaVersion != supportedSchema {
		return nil, fmt.Errorf("Trivy JSON report has SchemaVersion %d, go-image reads %d: use the pinned Trivy release (ci/install-tools.sh)",
			r.SchemaVersion, supportedSchema)
	}
	return &r, nil
}
