package lint

import (
	"fmt"
	"sort"
	"strings"
)

// Severity is what a finding of an analyzer does to the gate.
type Severity string

const (
	// Deny fails the gate: a finding blocks the release. The default.
	Deny Severity = "deny"
	// Warn reports the finding as a warning; the gate passes.
	Warn Severity = "warn"
)

// Policy maps analyzer names to severities; an analyzer not named is Deny.
// The CLI's --lint-policy and the Dagger module's lintPolicy argument are the
// same string, parsed by ParsePolicy.
type Policy map[string]Severity

// ParsePolicy parses "httpshutdown=deny,k8swatchcancel=warn". The empty
// string is the default: every analyzer denies.
func ParsePolicy(s string) (Policy, error) {
	p := Policy{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		name, sev, ok := strings.Cut(kv, "=")
		name, sev = strings.TrimSpace(name), strings.TrimSpace(sev)
		if !ok || name == "" {
			return nil, fmt.Errorf("lint policy %q: want analyzer=deny|warn, e.g. k8swatchcancel=warn", kv)
		}
		if !knownAnalyzer(name) && name != IgnoreComments.Name {
			return nil, fmt.Errorf("lint policy %q: no analyzer %q; use one of %s", kv, name, strings.Join(append(append([]string(nil), ruleNames...), IgnoreComments.Name), ", "))
		}
		switch Severity(sev) {
		case Deny, Warn:
		default:
			return nil, fmt.Errorf("lint policy %q: severity %q: use deny (block) or warn (report, do not block); to switch the gate off use --no-lint with a reason", kv, sev)
		}
		if prev, dup := p[name]; dup && prev != Severity(sev) {
			return nil, fmt.Errorf("lint policy: %s given twice (%s and %s)", name, prev, sev)
		}
		p[name] = Severity(sev)
	}
	return p, nil
}

// Severity returns the severity of an analyzer's findings.
func (p Policy) Severity(analyzer string) Severity {
	if s, ok := p[analyzer]; ok {
		return s
	}
	return Deny
}

// String renders the policy as ParsePolicy reads it, sorted.
func (p Policy) String() string {
	var out []string
	for n, s := range p {
		out = append(out, n+"="+string(s))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
