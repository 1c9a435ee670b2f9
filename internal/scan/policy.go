package scan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"dagger/go-image/internal/report"
)

// Gate and check names in go-image's report.
const (
	GateName = "scan"
	CheckID  = "scan/vulnerabilities"
)

// Severities in Trivy's order, lowest first.
var severityOrder = []string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// DefaultSeverity is the default threshold: HIGH and CRITICAL block.
const DefaultSeverity = "HIGH,CRITICAL"

func severityRank(s string) int { return slices.Index(severityOrder, s) }

// ParseSeverity reads a threshold. One severity is a minimum ("HIGH" means
// HIGH and CRITICAL); a comma-separated list is taken as is, as Trivy's
// --severity does ("MEDIUM,CRITICAL" leaves HIGH non-blocking). Case is
// ignored. The result is ordered lowest first.
func ParseSeverity(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.ToUpper(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if severityRank(f) < 0 {
			return nil, fmt.Errorf("severity %q: use one of %s, or a comma-separated list of them", f, strings.Join(severityOrder, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	switch len(out) {
	case 0:
		return nil, fmt.Errorf("severity %q: name at least one of %s", s, strings.Join(severityOrder, ", "))
	case 1:
		out = slices.Clone(severityOrder[severityRank(out[0]):])
	}
	slices.SortFunc(out, func(a, b string) int { return severityRank(a) - severityRank(b) })
	return out, nil
}

// Policy is what makes a finding block the image.
type Policy struct {
	// Severities block the image; the rest are reported as below threshold.
	// Empty means DefaultSeverity.
	Severities []string
	// IgnoreUnfixed ignores findings without a fixed version (Trivy's
	// --ignore-unfixed: every status other than "fixed").
	IgnoreUnfixed bool
	// Ignore lists accepted vulnerability IDs (.trivyignore format); nil
	// ignores nothing.
	Ignore *IgnoreList
	// Now decides which ignore entries have expired; zero means time.Now().
	Now time.Time
	// MaxDBAge is how old the vulnerability DB may be before a pass turns
	// into a warning; zero means DefaultMaxDBAge.
	MaxDBAge time.Duration
}

// DefaultMaxDBAge: Trivy publishes a DB every 6 hours, and an offline scan
// never refreshes it, so a week-old DB silently misses a week of advisories.
const DefaultMaxDBAge = 7 * 24 * time.Hour

// CheckDBAge records the DB's age on res and turns a pass into a warning
// when the DB is older than MaxDBAge: a clean result from a stale DB is not
// news the user should trust silently. A zero updated time is ignored.
func (p Policy) CheckDBAge(res *report.Result, updated time.Time) {
	if updated.IsZero() {
		return
	}
	now, max := p.Now, p.MaxDBAge
	if now.IsZero() {
		now = time.Now()
	}
	if max == 0 {
		max = DefaultMaxDBAge
	}
	age := now.Sub(updated)
	if res.Metrics == nil {
		res.Metrics = map[string]float64{}
	}
	res.Metrics["db_age_hours"] = float64(int(age.Hours()))
	res.Details = append(res.Details, "vulnerability DB updated "+updated.UTC().Format(time.RFC3339))
	if age > max && res.Status == report.Pass {
		res.Status = report.Warn
		res.Message += fmt.Sprintf("; but the vulnerability DB is %d days old (updated %s): refresh it with `trivy image --download-db-only`",
			int(age.Hours()/24), updated.UTC().Format(time.DateOnly))
	}
}

// finding is one vulnerability with the policy's verdict on it.
type finding struct {
	Vulnerability
	target string
	kind   kind
	reason string // why it was ignored, or why an ignore entry no longer applies
}

type kind int

const (
	blocking kind = iota
	below
	ignored
)

func (p Policy) severities() []string {
	if len(p.Severities) == 0 {
		s, _ := ParseSeverity(DefaultSeverity)
		return s
	}
	return p.Severities
}

// unfixed follows Trivy's --ignore-unfixed, which ignores every status but
// "fixed"; reports without a status fall back to the fixed version.
func unfixed(v Vulnerability) bool {
	if v.Status != "" {
		return v.Status != "fixed"
	}
	return v.FixedVersion == ""
}

func (p Policy) classify(r *TrivyReport) []finding {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	sev := p.severities()
	var out []finding
	for _, res := range r.Results {
		for _, v := range res.Vulnerabilities {
			if v.Severity == "" {
				v.Severity = "UNKNOWN" // as Trivy does
			}
			f := finding{Vulnerability: v, target: res.Target}
			e, expired := p.Ignore.match(v.VulnerabilityID, now)
			switch {
			case e != nil && !expired:
				f.kind, f.reason = ignored, e.describe()
			case p.IgnoreUnfixed && unfixed(v):
				f.kind, f.reason = ignored, "no fixed version (ignore-unfixed)"
			case slices.Contains(sev, v.Severity):
				f.kind = blocking
			default:
				f.kind = below
			}
			if e != nil && expired && f.kind != ignored {
				f.reason = "ignore entry expired: " + e.describe()
			}
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b finding) int {
		return cmp.Or(
			cmp.Compare(a.kind, b.kind),
			cmp.Compare(severityRank(b.Severity), severityRank(a.Severity)),
			cmp.Compare(a.VulnerabilityID, b.VulnerabilityID),
			cmp.Compare(a.PkgName, b.PkgName),
			cmp.Compare(a.target, b.target),
		)
	})
	return out
}

// Evaluate applies the policy to a Trivy report and returns the gate's one
// result: fail when a finding at a blocking severity remains after the
// ignores, pass otherwise. Every finding is listed in the details, ignored
// ones with the reason.
func (p Policy) Evaluate(r *TrivyReport) report.Result {
	fs := p.classify(r)
	sev := strings.Join(p.severities(), ",")
	count := map[kind]int{}
	var blockers []string
	for _, f := range fs {
		count[f.kind]++
		if f.kind == blocking {
			blockers = append(blockers, fmt.Sprintf("%s (%s %s)", f.VulnerabilityID, f.PkgName, f.InstalledVersion))
		}
	}
	res := report.Result{
		Gate: GateName,
		ID:   CheckID,
		Metrics: map[string]float64{
			"targets":         float64(len(r.Results)),
			"vulnerabilities": float64(len(fs)),
			"blocking":        float64(count[blocking]),
			"below_threshold": float64(count[below]),
			"ignored":         float64(count[ignored]),
		},
	}
	for _, f := range fs {
		res.Details = append(res.Details, f.line())
	}
	tally := fmt.Sprintf("%d below threshold, %d ignored", count[below], count[ignored])
	if len(blockers) > 0 {
		res.Status = report.Fail
		shown := blockers
		if len(shown) > 5 {
			shown = append(slices.Clone(shown[:5]), fmt.Sprintf("and %d more", len(blockers)-5))
		}
		res.Message = fmt.Sprintf("%d vulnerabilit%s at %s: %s (%s); upgrade to the fixed versions, or accept each in the ignore file with a reason and an exp: date",
			len(blockers), plural(len(blockers)), sev, strings.Join(shown, ", "), tally)
		return res
	}
	res.Status = report.Pass
	res.Message = fmt.Sprintf("no vulnerabilities at %s (%s)", sev, tally)
	if len(r.Results) == 0 {
		// Trivy found no OS package database and no binary with build info:
		// the image was scanned, but there was nothing it could match.
		res.Status = report.Warn
		res.Message = "Trivy found nothing to scan (no OS packages, no Go binary with build info): build with module mode so the binary carries its dependency list"
	}
	return res
}

func plural(n int) string {
	if n == 1 {
		return "y"
	}
	return "ies"
}

var kindLabel = map[kind]string{blocking: "BLOCKING", below: "below   ", ignored: "ignored "}

func (f finding) line() string {
	fixed := f.FixedVersion
	if fixed == "" {
		fixed = "no fix"
	}
	s := fmt.Sprintf("%s %s %-8s %s %s -> %s in %s", kindLabel[f.kind], f.VulnerabilityID, f.Severity,
		f.PkgName, f.InstalledVersion, fixed, f.target)
	if f.Title != "" {
		s += ": " + f.Title
	}
	if f.reason != "" {
		s += " [" + f.reason + "]"
	}
	return s
}
