package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/engine"
	"dagger/go-image/internal/recipe"
)

// WithMaxSize sets the size gate's budget: the image as a registry stores
// it (compressed layers, config and manifest) must not exceed it.
func (m *GoImage) WithMaxSize(
	// B, kB, MB, GB (decimal) or KiB, MiB, GiB, e.g. 20MB (gate default: 25MB).
	size string,
) (*GoImage, error) {
	return m.with(choices.Gates{MaxSize: &size}, func(c *GoImage) { c.MaxSize = size })
}

// WithUpx sets the UPX gate's policy for UPX-packed binaries.
func (m *GoImage) WithUpx(
	// deny (fail), warn (pass with a warning) or allow (gate default: deny).
	policy string,
) (*GoImage, error) {
	return m.with(choices.Gates{UPX: &policy}, func(c *GoImage) { c.UpxPolicy = policy })
}

// WithoutCheck skips one hardening check, with the reason the report
// records (e.g. harden/no-setuid "the base ships ping").
func (m *GoImage) WithoutCheck(
	// Check ID, e.g. harden/no-setuid.
	id string,
	// Why it does not apply to this image.
	reason string,
) (*GoImage, error) {
	return m.with(choices.Gates{Skip: map[string]string{id: reason}}, func(c *GoImage) {
		c.SkippedChecks = append(slices.Clone(m.SkippedChecks), id+"="+reason)
	})
}

// WithSeverity sets the severities that fail the scan gate.
func (m *GoImage) WithSeverity(
	// A list (CRITICAL,HIGH) or a minimum (HIGH means HIGH and CRITICAL) (gate default: HIGH,CRITICAL).
	severity string,
) (*GoImage, error) {
	return m.with(choices.Gates{Scan: choices.Scan{Severity: &severity}}, func(c *GoImage) { c.Severity = severity })
}

// WithIgnoreUnfixed makes the scan gate ignore vulnerabilities that have no
// fixed version (Trivy's --ignore-unfixed), or, with ignore false, not,
// whatever go-image.yaml says.
func (m *GoImage) WithIgnoreUnfixed(
	// Ignore them (false: report them, over a policy file's true).
	// +optional
	// +default=true
	ignore bool,
) *GoImage {
	return m.set(func(c *GoImage) { c.IgnoreUnfixed = &ignore })
}

// WithIgnorefile sets the accepted vulnerability IDs, in .trivyignore format
// (IDs, # comments, exp:YYYY-MM-DD); each is listed in the report with its
// reason (default: .trivyignore at the source root, when present).
func (m *GoImage) WithIgnorefile(
	// The ignore file, e.g. the .trivyignore of another directory.
	file *dagger.File,
) *GoImage {
	return m.set(func(c *GoImage) { c.Ignorefile = file })
}

// WithBuildCache shares the builder's Go build cache through an OCI
// registry, for ephemeral CI: a fresh engine with empty cache volumes
// starts from the compiled packages the previous run left there. Every
// object is verified against its content address on read and every index
// entry against the key, so a registry that serves something else is a
// miss, never a wrong build; a registry that is down costs one warning, not
// the build. The builder's containers must reach the registry.
func (m *GoImage) WithBuildCache(
	// REGISTRY/REPO[:TAG] holding the cache (tag default: go-build-cache).
	repository string,
	// Key that authenticates the cache's index entries, at least 16 bytes
	// (e.g. `openssl rand -hex 32`); every writer and reader of the cache
	// shares it, so give it only to trusted jobs.
	key *dagger.Secret,
	// Registry username (with password; default: anonymous).
	// +optional
	username string,
	// Registry password or token.
	// +optional
	password *dagger.Secret,
	// Allow plain HTTP and unverified TLS to the registry.
	// +optional
	insecure bool,
) *GoImage {
	return m.set(func(c *GoImage) {
		c.BuildCacheRepository, c.BuildCacheKey, c.BuildCacheUsername, c.BuildCachePassword, c.BuildCacheInsecure = repository, key, username, password, insecure
	})
}

// WithTrivyDbRepository downloads Trivy's vulnerability DB from a mirror of
// ghcr.io/aquasecurity/trivy-db (trivy --db-repository), e.g. for a private
// registry. The engine's containers must reach it.
func (m *GoImage) WithTrivyDbRepository(
	// OCI repository of the DB, e.g. registry.example/mirror/trivy-db:2.
	repository string,
) *GoImage {
	return m.set(func(c *GoImage) { c.TrivyDbRepository = repository })
}

// WithTrivyDb hands the scan a vulnerability DB downloaded beforehand (for
// air-gapped CI): nothing is downloaded then. A DB older than 7 days turns
// a pass into a warning.
func (m *GoImage) WithTrivyDb(
	// A Trivy cache directory holding db/trivy.db and db/metadata.json, as
	// `trivy image --download-db-only --cache-dir DIR` writes it.
	db *dagger.Directory,
) *GoImage {
	return m.set(func(c *GoImage) { c.TrivyDb = db })
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
	// Business request in flight when SIGTERM is sent; it must complete (default: /slow?d=500ms).
	// +optional
	slowPath string,
	// How long the health endpoint may take to answer 200 after start (default: 10s).
	// +optional
	startupBudget string,
	// Termination grace period: the service must stop this long after SIGTERM (default: 30s).
	// +optional
	grace string,
) (*GoImage, error) {
	c := m.set(func(c *GoImage) {
		c.SmokeBusinessPort, c.SmokeProbePort, c.SmokeHealthPath, c.SmokeReadyPath = businessPort, probePort, healthPath, readyPath
		c.SmokeNoReadiness, c.SmokeSlowPath, c.SmokeStartupBudget, c.SmokeGrace = noReadiness, slowPath, startupBudget, grace
	})
	if err := (choices.Gates{Smoke: c.smokeChoices()}).Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// WithLintPolicy sets the lint gate's severity per analyzer: a warned
// analyzer's findings appear in the report and do not block.
func (m *GoImage) WithLintPolicy(
	// analyzer=deny|warn, comma-separated, e.g. httpshutdown=deny,k8swatchcancel=warn (gate default: deny).
	policy string,
) (*GoImage, error) {
	return m.with(choices.Gates{Lint: choices.Lint{Policy: &policy}}, func(c *GoImage) { c.LintPolicy = policy })
}

// WithLintOperationalRoutes sets the route prefixes (metrics, pprof,
// status) that may share a mux with the probes without counting as business
// routes for the healthmux analyzer.
func (m *GoImage) WithLintOperationalRoutes(
	// Comma-separated path prefixes, e.g. /metrics,/debug/,/version.
	routes string,
) *GoImage {
	return m.set(func(c *GoImage) { c.LintOperationalRoutes = routes })
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
	return m.with(choices.Gates{Off: map[string]string{gate: reason}}, func(c *GoImage) {
		c.Off = append(slices.Clone(m.Off), gate+"="+reason)
	})
}

// with is a copy of m changed by set, once the choice the call makes
// (the argument as given) validates: a bad one fails at once, before
// anything builds. Every With*/Without* returns a new object, as Dagger
// objects are values.
func (m *GoImage) with(choice choices.Gates, set func(*GoImage)) (*GoImage, error) {
	if err := choice.Validate(); err != nil {
		return nil, err
	}
	return m.set(set), nil
}

// set is a copy of m changed by set.
func (m *GoImage) set(set func(*GoImage)) *GoImage {
	c := *m
	set(&c)
	return &c
}

// choices binds the module's state into the choices both executors run,
// as the CLI binds its flags: an argument left empty is a choice not made
// (Dagger cannot tell it from one not given), platforms (release's), when
// given, replace the constructor's platform. The file with-ignorefile gave
// is chosen by its own name and served by the returned Files, with the
// source's files.
func (m *GoImage) choices(ctx context.Context, platforms ...string) (choices.Choices, engine.Files, error) {
	files := engine.Files{Source: m.Source}
	labels, err := recipe.ParseLabels(m.Labels)
	if err != nil {
		return choices.Choices{}, files, &choices.Error{Field: "recipe.labels", Err: err}
	}
	c := choices.Choices{
		Recipe: choices.Recipe{
			Main: m.Main, Name: given(m.Name), GoVersion: given(m.GoVersion), Platforms: givenList(m.Platform),
			Base: given(m.Base), BaseImage: given(m.BaseImage), Version: given(m.Version), VersionVar: given(m.VersionVar),
			Ldflags: m.Ldflags, Tags: m.Tags, Labels: labels, SourceURL: given(m.SourceURL), Revision: given(m.Revision),
			SourceDateEpoch: given(int64(m.SourceDateEpoch)), UPXCompress: m.UpxCompress,
		},
		Gates: m.gateChoices(),
	}
	if len(platforms) > 0 {
		c.Recipe.Platforms = platforms
	}
	if m.Ignorefile != nil {
		name, err := m.Ignorefile.Name(ctx)
		if err != nil {
			return c, files, fmt.Errorf("ignorefile: %w", err)
		}
		if name == "" {
			name = "with-ignorefile"
		}
		c.Gates.Scan.IgnoreFile = &name
		files.Given = map[string]*dagger.File{name: m.Ignorefile}
	}
	return c, files, nil
}

// gateChoices are the gate choices of the With*/Without* calls (the
// ignore file aside, which choices adds).
func (m *GoImage) gateChoices() choices.Gates {
	return choices.Gates{
		MaxSize: given(m.MaxSize), UPX: given(m.UpxPolicy), Skip: pairs(m.SkippedChecks), Off: pairs(m.Off),
		Scan:  choices.Scan{Severity: given(m.Severity), IgnoreUnfixed: m.IgnoreUnfixed},
		Lint:  choices.Lint{Policy: given(m.LintPolicy), OperationalRoutes: given(m.LintOperationalRoutes)},
		Smoke: m.smokeChoices(),
	}
}

// smokeChoices are WithSmoke's arguments; noReadiness is an empty ready path.
func (m *GoImage) smokeChoices() choices.Smoke {
	s := choices.Smoke{
		BusinessPort: given(m.SmokeBusinessPort), ProbePort: given(m.SmokeProbePort),
		HealthPath: given(m.SmokeHealthPath), ReadyPath: given(m.SmokeReadyPath), SlowPath: given(m.SmokeSlowPath),
		StartupBudget: given(m.SmokeStartupBudget), Grace: given(m.SmokeGrace),
	}
	if m.SmokeNoReadiness {
		s.ReadyPath = new("")
	}
	return s
}

// given is an argument as a choice: nil when it has its zero value.
func given[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func givenList(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

// pairs reads the id=reason entries With*/Without* recorded; the first =
// splits, so a reason may hold one.
func pairs(kvs []string) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// arguments name the argument or function that sets a choice, for the
// origins the reports and errors show: the constructor's arguments by
// their flag, the gates by their With*/Without* function.
var arguments = map[string]string{
	"recipe.platforms":             "--platform (release --platforms)",
	"recipe.sourceURL":             "--source-url",
	"gates.maxSize":                "with-max-size",
	"gates.upx":                    "with-upx",
	"gates.skip":                   "without-check",
	"gates.off.scan":               "without-scan",
	"gates.off.lint":               "without-lint",
	"gates.off.smoke":              "without-smoke",
	"gates.scan.severity":          "with-severity",
	"gates.scan.ignoreUnfixed":     "with-ignore-unfixed",
	"gates.scan.ignoreFile":        "with-ignorefile",
	"gates.lint.policy":            "with-lint-policy",
	"gates.lint.operationalRoutes": "with-lint-operational-routes",
	"gates.smoke":                  "with-smoke",
}

// argument names what set the choice at field: its entry in arguments
// (or its section's), else the constructor's --<kebab-case name>.
func argument(field string) string {
	for f := range choices.Enclosing(field) {
		if a, ok := arguments[f]; ok {
			return a
		}
	}
	if name, ok := strings.CutPrefix(field, "recipe."); ok {
		var b strings.Builder
		for _, r := range name {
			if unicode.IsUpper(r) {
				b.WriteByte('-')
			}
			b.WriteRune(unicode.ToLower(r))
		}
		return "--" + b.String()
	}
	return ""
}

// layer is the module's arguments as the top layer of choices.
func layer(c choices.Choices) choices.Layer {
	return choices.Layer{Choices: c, Origin: func(field string) choices.Origin {
		return choices.Origin{Kind: choices.FromFlag, Where: argument(field)}
	}}
}
