package main

import (
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/harden"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/policy"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/upx"
)

// WithMaxSize sets the size gate's budget: the image as a registry stores
// it (compressed layers, config and manifest) must not exceed it.
func (m *GoImage) WithMaxSize(
	// B, kB, MB, GB (decimal) or KiB, MiB, GiB, e.g. 20MB (gate default: 25MB).
	size string,
) (*GoImage, error) {
	_, err := policy.Parse(size, "", nil)
	return m.with(err, func(c *GoImage) { c.MaxSize = size })
}

// WithUpx sets the UPX gate's policy for UPX-packed binaries.
func (m *GoImage) WithUpx(
	// deny (fail), warn (pass with a warning) or allow (gate default: deny).
	policy string,
) (*GoImage, error) {
	_, err := upx.ParsePolicy(policy)
	return m.with(err, func(c *GoImage) { c.UpxPolicy = policy })
}

// WithoutCheck skips one hardening check, with the reason the report
// records (e.g. harden/no-setuid "the base ships ping").
func (m *GoImage) WithoutCheck(
	// Check ID, e.g. harden/no-setuid.
	id string,
	// Why it does not apply to this image.
	reason string,
) (*GoImage, error) {
	skipped := append(append([]string(nil), m.SkippedChecks...), id+"="+reason)
	_, err := harden.ParseSkip(skipped)
	return m.with(err, func(c *GoImage) { c.SkippedChecks = skipped })
}

// WithSeverity sets the severities that fail the scan gate.
func (m *GoImage) WithSeverity(
	// A list (CRITICAL,HIGH) or a minimum (HIGH means HIGH and CRITICAL) (gate default: HIGH,CRITICAL).
	severity string,
) (*GoImage, error) {
	_, err := scan.ParseSeverity(severity)
	return m.with(err, func(c *GoImage) { c.Severity = severity })
}

// WithIgnoreUnfixed makes the scan gate ignore vulnerabilities that have no
// fixed version (Trivy's --ignore-unfixed).
func (m *GoImage) WithIgnoreUnfixed() *GoImage {
	c, _ := m.with(nil, func(c *GoImage) { c.IgnoreUnfixed = true })
	return c
}

// WithIgnorefile sets the accepted vulnerability IDs, in .trivyignore format
// (IDs, # comments, exp:YYYY-MM-DD); each is listed in the report with its
// reason (default: .trivyignore at the source root, when present).
func (m *GoImage) WithIgnorefile(
	// The ignore file, e.g. the .trivyignore of another directory.
	file *dagger.File,
) *GoImage {
	c, _ := m.with(nil, func(c *GoImage) { c.Ignorefile = file })
	return c
}

// WithTrivyDbRepository downloads Trivy's vulnerability DB from a mirror of
// ghcr.io/aquasecurity/trivy-db (trivy --db-repository), e.g. for a private
// registry. The engine's containers must reach it.
func (m *GoImage) WithTrivyDbRepository(
	// OCI repository of the DB, e.g. registry.example/mirror/trivy-db:2.
	repository string,
) *GoImage {
	c, _ := m.with(nil, func(c *GoImage) { c.TrivyDbRepository = repository })
	return c
}

// WithTrivyDb hands the scan a vulnerability DB downloaded beforehand (for
// air-gapped CI): nothing is downloaded then. A DB older than 7 days turns
// a pass into a warning.
func (m *GoImage) WithTrivyDb(
	// A Trivy cache directory holding db/trivy.db and db/metadata.json, as
	// `trivy image --download-db-only --cache-dir DIR` writes it.
	db *dagger.Directory,
) *GoImage {
	c, _ := m.with(nil, func(c *GoImage) { c.TrivyDb = db })
	return c
}

// WithSmoke sets how the smoke gate runs the image; an argument left out
// keeps its default.
func (m *GoImage) WithSmoke(
	// Port the service serves business traffic on (default: 8080).
	// +optional
	businessPort int,
	// Port of the probe server; the same port as businessPort fails the gate (default: 8081).
	// +optional
	probePort int,
	// Liveness endpoint on the probe port (default: /healthz).
	// +optional
	healthPath string,
	// Readiness endpoint on the probe port (default: /readyz).
	// +optional
	readyPath string,
	// The service has no readiness endpoint: skip the readiness checks.
	// +optional
	noReadiness bool,
	// Business request in flight when SIGTERM is sent; it must complete (default: /slow?d=2s).
	// +optional
	slowPath string,
	// How long the health endpoint may take to answer 200 after start (default: 10s).
	// +optional
	startupBudget string,
	// Termination grace period: the service must stop this long after SIGTERM (default: 30s).
	// +optional
	grace string,
) (*GoImage, error) {
	c := *m
	c.SmokeBusinessPort, c.SmokeProbePort, c.SmokeHealthPath, c.SmokeReadyPath = businessPort, probePort, healthPath, readyPath
	c.SmokeNoReadiness, c.SmokeSlowPath, c.SmokeStartupBudget, c.SmokeGrace = noReadiness, slowPath, startupBudget, grace
	if _, err := c.smokeConfig(); err != nil {
		return nil, err
	}
	return &c, nil
}

// WithLintPolicy sets the lint gate's severity per analyzer: a warned
// analyzer's findings appear in the report and do not block.
func (m *GoImage) WithLintPolicy(
	// analyzer=deny|warn, comma-separated, e.g. httpshutdown=deny,k8swatchcancel=warn (gate default: deny).
	policy string,
) (*GoImage, error) {
	_, err := lint.ParsePolicy(policy)
	return m.with(err, func(c *GoImage) { c.LintPolicy = policy })
}

// WithLintOperationalRoutes sets the route prefixes (metrics, pprof,
// status) that may share a mux with the probes without counting as business
// routes for the healthmux analyzer.
func (m *GoImage) WithLintOperationalRoutes(
	// Comma-separated path prefixes, e.g. /metrics,/debug/,/version.
	routes string,
) *GoImage {
	c, _ := m.with(nil, func(c *GoImage) { c.LintOperationalRoutes = routes })
	return c
}

// WithoutScan switches the vulnerability gate off; the report shows it as
// skipped with the reason.
func (m *GoImage) WithoutScan(
	// Why, e.g. "scanned by the registry".
	reason string,
) (*GoImage, error) {
	return m.without("scan", reason)
}

// WithoutLint switches the lint gate (Kubernetes analyzers over the source)
// off; the report shows it as skipped with the reason.
func (m *GoImage) WithoutLint(
	// Why, e.g. "not a Kubernetes service".
	reason string,
) (*GoImage, error) {
	return m.without("lint", reason)
}

// WithoutSmoke switches the smoke gate (the image run as a service) off;
// the report shows it as skipped with the reason.
func (m *GoImage) WithoutSmoke(
	// Why, e.g. "needs a database".
	reason string,
) (*GoImage, error) {
	return m.without("smoke", reason)
}

func (m *GoImage) without(gate, reason string) (*GoImage, error) {
	var o policy.Options
	err := o.SwitchOff(gate, reason)
	return m.with(err, func(c *GoImage) { c.Off = append(append([]string(nil), m.Off...), gate+"="+reason) })
}

// with is a copy of m changed by set, or err when the choice did not
// validate: every With*/Without* returns a new object, as Dagger objects
// are values.
func (m *GoImage) with(err error, set func(*GoImage)) (*GoImage, error) {
	if err != nil {
		return nil, err
	}
	c := *m
	set(&c)
	return &c, nil
}
