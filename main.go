// go-image turns a Go service repository into a hardened, minimal,
// Kubernetes-ready container image and pushes it only when every gate
// passes.
//
// The constructor takes the build recipe (source, main package, platform,
// base, version…) and the images to build with; With* and Without*
// functions set the gates; check, release and the single-gate functions run
// them. Every decision lives in the pure-Go packages under internal/, which
// the daemonless CLI (cmd/go-image) runs too, so both give the same image
// digest and the same verdicts.
package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/engine"
	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/harden"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/manifest"
	"dagger/go-image/internal/policy"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/release"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/sbom"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/sign"
	"dagger/go-image/internal/smoke"
	"dagger/go-image/internal/upx"
	"dagger/go-image/internal/verify"
)

// GoImage builds a Go service into a hardened, minimal image and gates it.
// Its state is the recipe and the gate choices; set them with the
// constructor and the With*/Without* functions.
type GoImage struct {
	// +private
	Source *dagger.Directory
	// +private
	Main string
	// +private
	Name string
	// +private
	GoVersion string
	// +private
	Platform string
	// +private
	Base string
	// +private
	BaseImage string
	// +private
	Version string
	// +private
	VersionVar string
	// +private
	Ldflags []string
	// +private
	Tags []string
	// +private
	Labels []string
	// +private
	SourceURL string
	// +private
	Revision string
	// +private
	SourceDateEpoch int
	// +private
	UpxCompress bool
	// +private
	Builder *dagger.Container
	// +private
	TrivyImage string
	// +private
	CacheNamespace string

	// Gate choices (With*, Without*); the zero values are the defaults of
	// internal/policy, internal/scan and internal/smoke.

	// +private
	MaxSize string
	// +private
	UpxPolicy string
	// +private
	SkippedChecks []string
	// +private
	Severity string
	// +private
	IgnoreUnfixed bool
	// +private
	Ignorefile *dagger.File
	// +private
	TrivyDbRepository string
	// +private
	TrivyDb *dagger.Directory
	// +private
	SmokeBusinessPort int
	// +private
	SmokeProbePort int
	// +private
	SmokeHealthPath string
	// +private
	SmokeReadyPath string
	// +private
	SmokeNoReadiness bool
	// +private
	SmokeSlowPath string
	// +private
	SmokeStartupBudget string
	// +private
	SmokeGrace string
	// +private
	LintPolicy string
	// +private
	LintOperationalRoutes string
	// +private
	Off []string
}

// New takes the build recipe and the images to build with. Every argument
// but the source is optional; the gates are set with the With* and
// Without* functions.
func New(
	// The Go module root of the service (the directory with go.mod).
	// +defaultPath="/"
	// +ignore=["**/.git", "**/*.tar", "**/node_modules", "**/.dagger"]
	source *dagger.Directory,
	// Main package, relative to the source (default: ., the module root).
	// +optional
	main string,
	// Binary name (default: the main package's directory, or the module path's last element).
	// +optional
	name string,
	// Go release of the builder, the golang:<goVersion>-alpine tag (default: the source's go.mod: its toolchain line, else its go line's release).
	// +optional
	goVersion string,
	// Target platform os/arch[/variant]; cross-compiled, never emulated (default: linux/amd64).
	// +optional
	platform string,
	// Final stage base: scratch or alpine (default: scratch).
	// +optional
	base string,
	// Alpine base image reference, resolved to a digest and pulled by digest through the engine; only with base alpine (default: alpine:3.22).
	// +optional
	baseImage string,
	// Version injected with -X (see versionVar) and set as the org.opencontainers.image.version label.
	// +optional
	version string,
	// String variable that receives version (default: main.version).
	// +optional
	versionVar string,
	// Extra linker flags, after -s -w.
	// +optional
	ldflags []string,
	// Go build tags.
	// +optional
	tags []string,
	// Extra OCI labels, key=value.
	// +optional
	labels []string,
	// org.opencontainers.image.source label.
	// +optional
	sourceUrl string,
	// org.opencontainers.image.revision label.
	// +optional
	revision string,
	// Timestamp (Unix seconds) of every file and of the image config, so the same inputs give the same digest (default: 0, 1970-01-01).
	// +optional
	sourceDateEpoch int,
	// Pack the binary with UPX (upx --best --lzma) in the builder: a smaller image for a slower, memory-hungrier start. The UPX gate (deny by default, see with-upx) then decides whether it may ship.
	// +optional
	upxCompress bool,
	// Builder container with the Go toolchain, instead of golang:<goVersion>-alpine: for registry mirrors, pinned digests or extra tools. go-image mounts its caches at /go/pkg/mod and /root/.cache/go-build and sets GOTOOLCHAIN=local.
	// +optional
	builder *dagger.Container,
	// Trivy image of the scan gate (default: aquasec/trivy:0.67.2, the release go-image is tested with).
	// +optional
	trivyImage string,
	// Prefix of the cache volumes: <ns>-gomod, <ns>-gobuild, <ns>-trivy-db-default or <ns>-trivy-db-<repository hash> (default: go-image).
	// +optional
	cacheNamespace string,
) *GoImage {
	return &GoImage{
		Source: source, Main: main, Name: name, GoVersion: goVersion, Platform: platform,
		Base: base, BaseImage: baseImage, Version: version, VersionVar: versionVar, Ldflags: ldflags,
		Tags: tags, Labels: labels, SourceURL: sourceUrl, Revision: revision, SourceDateEpoch: sourceDateEpoch,
		UpxCompress: upxCompress, Builder: builder, TrivyImage: trivyImage, CacheNamespace: cacheNamespace,
	}
}

// --- gate choices ---

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
func (m *GoImage) WithIgnorefile(file *dagger.File) *GoImage {
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

// --- build ---

// Binary compiles the service: a static, stripped binary built with
// CGO_ENABLED=0 go build -trimpath -ldflags="-s -w …" in the builder. A
// library package, a missing main package or cgo is refused with the cause
// before compiling.
func (m *GoImage) Binary(ctx context.Context) (*dagger.File, error) {
	e, p, err := m.executor(ctx)
	if err != nil {
		return nil, err
	}
	return e.Binary(ctx, p)
}

// Build returns the final image as a container: the binary alone on scratch
// (or alpine), root-owned and 0555, a CA bundle, passwd and group entries
// for 65532, USER 65532:65532, an exec-form entrypoint and OCI labels. Chain
// it: build as-service up --ports 8080:8080, build publish --address …
// (which skips the gates: use release). Its export is not reproducible,
// because Dagger's exporter writes its own creation times; tarball is.
// +cache="session"
func (m *GoImage) Build(ctx context.Context) (*dagger.Container, error) {
	e, b, err := m.image(ctx)
	if err != nil {
		return nil, err
	}
	return e.Container(b)
}

// Tarball returns the final image as an image tarball (an OCI image layout
// plus docker's manifest.json, as `docker save` writes since Docker 25),
// byte for byte what `go-image build --output` writes and what release
// pushes: the same inputs give the same digest on every machine.
// +cache="session"
func (m *GoImage) Tarball(ctx context.Context) (*dagger.File, error) {
	_, b, err := m.image(ctx)
	if err != nil {
		return nil, err
	}
	return b.Tarball, nil
}

// Sbom returns the image's SBOM (JSON), read from the service binary's Go
// build information: the main module, every linked module with its go.sum
// hash, and the Go standard library.
func (m *GoImage) Sbom(
	ctx context.Context,
	// spdx (SPDX 2.3) or cyclonedx (CycloneDX 1.5) (default: spdx).
	// +optional
	format string,
) (*dagger.File, error) {
	f, err := sbom.ParseFormat(format)
	if err != nil {
		return nil, err
	}
	e, b, err := m.image(ctx)
	if err != nil {
		return nil, err
	}
	bi, err := sbom.BuildInfo(b.Image)
	if err != nil {
		return nil, err
	}
	o := e.Options
	doc, err := f.Generate(sbom.Subject{Name: o.Name, Version: o.Version, Platforms: []string{o.Platform}, Created: o.Created()}, bi)
	if err != nil {
		return nil, err
	}
	return dag.Directory().WithNewFile(f.FileName(), string(doc)).File(f.FileName()), nil
}

// --- gates ---

// Check builds the image and runs every gate on it, in the order and with
// the choices Release uses: size, scan, upx, harden, lint, smoke. It returns
// the report, and fails when a check fails unless noFail is set.
// +cache="never"
func (m *GoImage) Check(
	ctx context.Context,
	// Report format: text, json or markdown.
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when a check fails.
	// +optional
	noFail bool,
) (string, error) {
	if err := checkFormat(format); err != nil {
		return "", err
	}
	e, p, err := m.executor(ctx)
	if err != nil {
		return "", err
	}
	gs, err := m.gates(ctx, e)
	if err != nil {
		return "", err
	}
	b, err := e.Image(ctx, p)
	if err != nil {
		return "", err
	}
	return writeReport(gates.Run(ctx, b.Image, gs...), format, noFail)
}

// Scan builds the image and runs the vulnerability gate alone: Trivy scans
// the image tarball and go-image's policy (the same Go code as
// `go-image scan`) decides. A failing gate is an error carrying the report.
// +cache="never"
func (m *GoImage) Scan(ctx context.Context) (string, error) {
	res, _, err := m.scan(ctx, false)
	if err != nil {
		return "", err
	}
	return writeReport(&report.Report{Results: []report.Result{res}}, "text", false)
}

// ScanReport runs the same scan and returns the files to upload, without
// failing when the gate does: trivy.json (every finding, before go-image's
// policy), trivy.sarif (SARIF 2.1.0, ignore file applied, for code
// scanning) and go-image-scan.json (go-image's verdict).
// +cache="never"
func (m *GoImage) ScanReport(ctx context.Context) (*dagger.Directory, error) {
	res, out, err := m.scan(ctx, true)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := (&report.Report{Results: []report.Result{res}}).WriteJSON(&b); err != nil {
		return nil, err
	}
	return dag.Directory().
		WithNewFile("trivy.json", string(out.JSON)).
		WithNewFile("trivy.sarif", string(out.SARIF)).
		WithNewFile("go-image-scan.json", b.String()), nil
}

// Smoke builds the image, runs it as a Dagger service and checks what a
// Kubernetes pod needs from it, with the CLI's driver: the health path
// answers 200 on the probe port within the start-up budget, the business
// port does not serve it, the ready path answers 200 only once the business
// port accepts, and on SIGTERM readiness turns 503, the in-flight request
// completes and the service stops within the grace period. The exit status
// is not visible through Dagger.
// +cache="never"
func (m *GoImage) Smoke(
	ctx context.Context,
	// Report format: text, json or markdown.
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when a check fails.
	// +optional
	noFail bool,
) (string, error) {
	if err := checkFormat(format); err != nil {
		return "", err
	}
	e, p, err := m.executor(ctx)
	if err != nil {
		return "", err
	}
	g, err := m.smokeGate(ctx, e)
	if err != nil {
		return "", err
	}
	b, err := e.Image(ctx, p)
	if err != nil {
		return "", err
	}
	return writeReport(gates.Run(ctx, b.Image, g), format, noFail)
}

// Lint runs go-image's Kubernetes analyzers (clients built per request,
// uncancellable watches and informers, servers that cannot drain, health
// routes on the business mux) over every package of the source, as
// `go vet -vettool=k8slint` in the builder. Same checks as `go-image lint`.
func (m *GoImage) Lint(
	ctx context.Context,
	// Report format: text, json, markdown, or sarif (SARIF 2.1.0 of the findings, for code scanning).
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when an analyzer reports.
	// +optional
	noFail bool,
) (string, error) {
	if format != "sarif" {
		if err := checkFormat(format); err != nil {
			return "", err
		}
	}
	lo, err := m.lintOptions()
	if err != nil {
		return "", err
	}
	e, _, err := m.executor(ctx)
	if err != nil {
		return "", err
	}
	fs, err := e.Lint(ctx, lo)
	if err != nil {
		return "", err
	}
	r := &report.Report{Results: lo.Policy.Results(engine.SourceDir, -1, lint.Analyzers(), fs)}
	if format != "sarif" {
		return writeReport(r, format, noFail)
	}
	b, err := lint.SARIF(engine.SourceDir, lint.Analyzers(), fs, lo.Policy)
	if err != nil {
		return "", err
	}
	if err := r.Err(); err != nil && !noFail {
		return "", fmt.Errorf("%s\n%w", b, err)
	}
	return string(b), nil
}

// lintOptions are the lint gate's choices.
func (m *GoImage) lintOptions() (lint.Options, error) {
	p, err := lint.ParsePolicy(m.LintPolicy)
	if err != nil {
		return lint.Options{}, err
	}
	return lint.Options{Policy: p, Operational: m.LintOperationalRoutes}, nil
}

// --- release ---

// Release builds the image for every platform, runs every gate on each
// platform's image and, only if no check failed, pushes it (an OCI index
// for several platforms) to every address: blobs, then the manifest by
// digest, tags last. It returns the pushed reference, repo@sha256:…, the
// digest Tarball and `go-image build` give for the same inputs.
// +cache="never"
func (m *GoImage) Release(
	ctx context.Context,
	// Where to push, REGISTRY/REPO:TAG, registry and tag written out; one or more.
	address []string,
	// Registry username, used with password (default: anonymous).
	// +optional
	username string,
	// Registry password or token; never printed.
	// +optional
	password *dagger.Secret,
	// Comma-separated target platforms, e.g. linux/amd64,linux/arm64 (default: the constructor's platform). The smoke gate runs the engine's own platform and reports the others as not run.
	// +optional
	platforms string,
	// Push the CycloneDX SBOM as an OCI referrer of the pushed digest.
	// +optional
	attachSbom bool,
	// Allow plain HTTP and unverified TLS to the registry (private-network and loopback registries use HTTP without it).
	// +optional
	insecure bool,
	// The registry of a loopback address (localhost:5000/…), as a service: pass tcp://localhost:5000 from the dagger CLI. Inside a function, 127.0.0.1 is the function's own container, so a registry on your machine is reached through this tunnel.
	// +optional
	registry *dagger.Service,
	// Cosign private key (the cosign.key of `cosign generate-key-pair`): sign the pushed digest and each platform image, and attest the SLSA provenance, the SBOM and the gate report, offline (nothing goes to a transparency log). Checked before anything builds.
	// +optional
	signKey *dagger.Secret,
	// Password of signKey (cosign's COSIGN_PASSWORD).
	// +optional
	signPassword *dagger.Secret,
	// SBOM format attached (attachSbom) or attested (signKey): spdx or cyclonedx (default: spdx).
	// +optional
	sbomFormat string,
) (string, error) {
	sbomFmt, err := sbom.ParseFormat(sbomFormat)
	if err != nil {
		return "", err
	}
	// A bad key or password is found now, not after the push.
	key, err := signingKey(ctx, signKey, signPassword)
	if err != nil {
		return "", err
	}
	e, p, err := m.executor(ctx)
	if err != nil {
		return "", err
	}
	ps := []recipe.Platform{p}
	if platforms != "" {
		if ps, err = recipe.ParsePlatforms(platforms); err != nil {
			return "", err
		}
	}
	popts, err := registryOptions(ctx, address, registry, username, password, insecure)
	if err != nil {
		return "", err
	}
	popts.Log = os.Stderr
	gs, err := m.gates(ctx, e)
	if err != nil {
		return "", err
	}
	var signing *release.Signing
	if key != nil {
		signing = &release.Signing{Key: key, Build: attest.Build{
			Recipe: e.Options, BuilderID: attest.BuilderDagger, GoImageVersion: attest.GoImageVersion(),
			Dependencies: e.Dependencies(ctx), StartedOn: time.Now(),
		}}
	}
	res, err := release.Run(ctx, release.Request{
		Platforms: ps, Gates: gs, Addresses: address, Push: popts,
		Build: func(ctx context.Context, p recipe.Platform) (v1.Image, error) {
			b, err := e.Image(ctx, p)
			return b.Image, err
		},
		AttachSBOM: attachSbom, SBOMFormat: sbomFmt, Sign: signing,
		Version: e.Options.Version, Created: e.Options.Created(), Log: os.Stderr,
	})
	if res != nil && len(res.Report.Results) > 0 {
		_ = res.Report.WriteText(os.Stderr)
	}
	if err != nil {
		return "", err
	}
	if len(res.Signatures) > 0 {
		fmt.Fprintf(os.Stderr, "go-image: signed %s with its provenance, SBOM and gate report; check with: dagger call verify --image %s --key cosign.pub\n", res.Digest, res.Pushed.Ref())
	}
	return res.Pushed.Ref(), nil
}

// signingKey decrypts the cosign key, nil when none is given.
func signingKey(ctx context.Context, key, password *dagger.Secret) (*sign.Key, error) {
	if key == nil {
		if password != nil {
			return nil, fmt.Errorf("signPassword given without signKey: pass the cosign.key as --sign-key (e.g. env:COSIGN_KEY)")
		}
		return nil, nil
	}
	pem, err := key.Plaintext(ctx)
	if err != nil {
		return nil, fmt.Errorf("signKey secret: %w", err)
	}
	var pw string
	if password != nil {
		if pw, err = password.Plaintext(ctx); err != nil {
			return nil, fmt.Errorf("signPassword secret: %w", err)
		}
	}
	k, err := sign.LoadKey([]byte(pem), []byte(pw))
	if err != nil {
		return nil, fmt.Errorf("signKey: %w", err)
	}
	return k, nil
}

// Verify checks a pushed image as an admission policy would, with the
// public key of the release's signing key: the signature on the digest
// (and on each platform image of an index), the SLSA provenance (its
// source revision, when given) and the gate report (no failed check), each
// attestation about this very digest. It fails with the cause otherwise.
// +cache="never"
func (m *GoImage) Verify(
	ctx context.Context,
	// The image, REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:….
	image string,
	// The public key, cosign.pub.
	key *dagger.File,
	// The source revision the provenance must name (default: any).
	// +optional
	revision string,
	// Registry username, used with password (default: anonymous).
	// +optional
	username string,
	// Registry password or token; never printed.
	// +optional
	password *dagger.Secret,
	// Allow plain HTTP and unverified TLS to the registry.
	// +optional
	insecure bool,
	// The registry of a loopback image reference, as a service (see release).
	// +optional
	registry *dagger.Service,
) (string, error) {
	pub, err := key.Contents(ctx)
	if err != nil {
		return "", fmt.Errorf("key: %w", err)
	}
	v, err := sign.LoadPublicKey([]byte(pub))
	if err != nil {
		return "", err
	}
	tag := image
	if i := strings.Index(tag, "@"); i >= 0 {
		tag = tag[:i] + ":verify" // the registry host is what the tunnel needs
	}
	popts, err := registryOptions(ctx, []string{tag}, registry, username, password, insecure)
	if err != nil {
		return "", err
	}
	res, err := verify.Image(ctx, image, v, verify.Options{Revision: revision, Registry: popts})
	if err != nil {
		return "", err
	}
	return res.Summary(), nil
}

// registryOptions are how release and verify reach the addresses'
// registry: through the registry service for a loopback address, with the
// credentials when given (both, or neither).
func registryOptions(ctx context.Context, address []string, registry *dagger.Service, username string, password *dagger.Secret, insecure bool) (push.Options, error) {
	o := push.Options{Insecure: insecure}
	var err error
	if o.Transport, err = registryTransport(ctx, address, registry); err != nil {
		return o, err
	}
	if username == "" && password == nil {
		return o, nil
	}
	if username == "" || password == nil {
		return o, fmt.Errorf("registry credentials: give both username and password, or neither")
	}
	pw, err := password.Plaintext(ctx)
	if err != nil {
		return o, fmt.Errorf("registry password secret: %w", err)
	}
	o.Credentials = push.Credentials{Username: username, Password: pw, PasswordFrom: "the password secret"}
	return o, nil
}

// registryTransport reaches the loopback registry of the addresses through
// the registry service, and refuses a loopback address without one.
func registryTransport(ctx context.Context, address []string, registry *dagger.Service) (http.RoundTripper, error) {
	tags, err := push.ParseAddresses(address, false)
	if err != nil {
		return nil, err
	}
	var loopback string
	for _, t := range tags {
		reg := t.RegistryStr()
		if !push.Loopback(reg) {
			continue
		}
		if loopback != "" && loopback != reg {
			return nil, fmt.Errorf("addresses name two loopback registries, %s and %s: one registry service can stand in for one", loopback, reg)
		}
		loopback = reg
	}
	switch {
	case loopback == "" && registry == nil:
		return nil, nil
	case loopback == "":
		return nil, fmt.Errorf("a registry service was given, but no address names a loopback registry (localhost:PORT/…) for it to stand in for")
	case registry == nil:
		return nil, fmt.Errorf("address registry %s is loopback: inside a Dagger function 127.0.0.1 is the function's own container, not your machine; "+
			"pass the registry as a service (--registry tcp://%s from the dagger CLI) or push to an address the engine's containers reach", loopback, loopback)
	}
	if !strings.Contains(loopback, ":") {
		return nil, fmt.Errorf("address registry %s: give its port (e.g. localhost:5000), which the registry service forwards", loopback)
	}
	svc, err := registry.Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("start the registry service: %w", err)
	}
	ep, err := engine.ServiceAddr(ctx, svc, 0)
	if err != nil {
		return nil, fmt.Errorf("registry service: %w", err)
	}
	return push.DialVia(loopback, ep), nil
}

// --- manifest ---

// Manifest renders a Deployment and Service for the image pinned by digest
// (the address Release printed), with the probes, grace period and
// restricted security context the gates checked. Same as `go-image manifest`.
func (m *GoImage) Manifest(
	// Image reference pinned by digest, e.g. registry.example/app@sha256:….
	image string,
	// Deployment and Service name (default: the image repository's last path element).
	// +optional
	name string,
	// Namespace (default: none, kubectl's current).
	// +optional
	namespace string,
	// Replicas of the Deployment.
	// +optional
	// +default=2
	replicas int,
	// Container port named http.
	// +optional
	// +default=8080
	businessPort int,
	// Container port named probe, for liveness and readiness.
	// +optional
	// +default=8081
	probePort int,
	// Service port, forwarded to the http container port.
	// +optional
	// +default=80
	servicePort int,
	// livenessProbe path on the probe port.
	// +optional
	// +default="/healthz"
	healthPath string,
	// readinessProbe path on the probe port.
	// +optional
	// +default="/readyz"
	readyPath string,
	// Omit the readiness probe.
	// +optional
	noReadiness bool,
	// Probes' initialDelaySeconds, 10-15 unless anyInitialDelay.
	// +optional
	// +default=10
	initialDelay int,
	// Accept an initialDelay outside 10-15.
	// +optional
	anyInitialDelay bool,
	// Probes' failureThreshold.
	// +optional
	// +default=3
	failureThreshold int,
	// terminationGracePeriodSeconds; keep it equal to the smoke gate's grace.
	// +optional
	// +default=30
	graceSeconds int,
	// Container CPU request.
	// +optional
	// +default="100m"
	cpuRequest string,
	// Container memory request.
	// +optional
	// +default="64Mi"
	memoryRequest string,
	// Container CPU limit (default: none).
	// +optional
	cpuLimit string,
	// Container memory limit (default: none).
	// +optional
	memoryLimit string,
	// Container environment variables, NAME=VALUE.
	// +optional
	env []string,
	// Label the pods so the sample admission policy (deploy/kyverno) admits them only with a passing gate-report attestation.
	// +optional
	requireGates bool,
) (*dagger.File, error) {
	o := manifest.Options{
		Image: image, Name: name, Namespace: namespace, Replicas: int32(replicas),
		BusinessPort: int32(businessPort), ProbePort: int32(probePort), ServicePort: int32(servicePort),
		HealthPath: healthPath, ReadyPath: readyPath, InitialDelaySeconds: int32(initialDelay), AnyInitialDelay: anyInitialDelay,
		FailureThreshold: int32(failureThreshold), GraceSeconds: int64(graceSeconds),
		CPURequest: cpuRequest, MemoryRequest: memoryRequest, CPULimit: cpuLimit, MemoryLimit: memoryLimit, Env: env,
		RequireGates: requireGates,
	}
	if noReadiness {
		o.ReadyPath = ""
	}
	y, err := manifest.Render(o)
	if err != nil {
		return nil, err
	}
	return dag.Directory().WithNewFile("manifest.yaml", string(y)).File("manifest.yaml"), nil
}

// --- plumbing ---

// executor turns the module's state into the Dagger executor of the recipe
// and the constructor's platform.
func (m *GoImage) executor(ctx context.Context) (*engine.Executor, recipe.Platform, error) {
	gomod, err := m.Source.File("go.mod").Contents(ctx)
	if err != nil {
		return nil, recipe.Platform{}, fmt.Errorf("source: no go.mod: pass the module root of the service (the directory with go.mod) as --source")
	}
	o := recipe.Options{
		Main: m.Main, Name: m.Name, GoVersion: m.GoVersion, Platform: m.Platform,
		Base: recipe.Base(m.Base), Version: m.Version, VersionVar: m.VersionVar,
		Ldflags: m.Ldflags, Tags: m.Tags, Source: m.SourceURL, Revision: m.Revision,
		SourceDateEpoch: int64(m.SourceDateEpoch),
	}
	if len(m.Labels) > 0 {
		o.Labels = map[string]string{}
		for _, kv := range m.Labels {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, recipe.Platform{}, fmt.Errorf("label %q: want key=value", kv)
			}
			o.Labels[k] = v
		}
	}
	if o.Name == "" {
		mod, err := compile.ModulePathOf([]byte(gomod))
		if err != nil {
			return nil, recipe.Platform{}, err
		}
		o.Name = recipe.DefaultName(o.Main, mod)
	}
	if o.GoVersion == "" && m.Builder == nil {
		if o.GoVersion, err = recipe.GoVersionOf([]byte(gomod)); err != nil {
			return nil, recipe.Platform{}, fmt.Errorf("source: %w", err)
		}
	}
	if o, err = o.Normalize(); err != nil {
		return nil, recipe.Platform{}, err
	}
	p, err := recipe.ParsePlatform(o.Platform)
	if err != nil {
		return nil, recipe.Platform{}, err
	}
	return &engine.Executor{
		Dag: dag, Source: m.Source, Module: dag.CurrentModule().Source(), Options: o, GoMod: []byte(gomod),
		Builder: m.Builder, BaseImage: m.BaseImage, CacheNamespace: m.CacheNamespace, UpxCompress: m.UpxCompress,
	}, p, nil
}

// image builds the constructor's platform.
func (m *GoImage) image(ctx context.Context) (*engine.Executor, engine.Built, error) {
	e, p, err := m.executor(ctx)
	if err != nil {
		return nil, engine.Built{}, err
	}
	b, err := e.Image(ctx, p)
	return e, b, err
}

// gates is the standard gate list (internal/policy) with the module's
// scan, lint and smoke. Every choice is validated before anything builds.
func (m *GoImage) gates(ctx context.Context, e *engine.Executor) ([]gates.Gate, error) {
	opts, err := policy.Parse(m.MaxSize, m.UpxPolicy, m.SkippedChecks)
	if err != nil {
		return nil, err
	}
	for _, kv := range m.Off {
		gate, reason, _ := strings.Cut(kv, "=")
		if err := opts.SwitchOff(gate, reason); err != nil {
			return nil, err
		}
	}
	if _, off := opts.Off["scan"]; !off {
		sp, ignorefile, err := m.scanPolicy(ctx)
		if err != nil {
			return nil, err
		}
		opts.Scan = policy.Func("scan", func(ctx context.Context, img v1.Image) ([]report.Result, error) {
			b, err := e.Built(img)
			if err != nil {
				return nil, err
			}
			res, err := m.scanBuilt(ctx, e, b, sp, ignorefile, false)
			return []report.Result{res.result}, err
		})
	}
	if _, off := opts.Off["lint"]; !off {
		lo, err := m.lintOptions()
		if err != nil {
			return nil, err
		}
		opts.Lint = policy.SourceFunc("lint", func(ctx context.Context) ([]report.Result, error) {
			fs, err := e.Lint(ctx, lo)
			return lo.Policy.Results(engine.SourceDir, -1, lint.Analyzers(), fs), err
		})
	}
	if _, off := opts.Off["smoke"]; !off {
		if opts.Smoke, err = m.smokeGate(ctx, e); err != nil {
			return nil, err
		}
	}
	return policy.Standard(opts), nil
}

// smokeConfig is the smoke gate's configuration from WithSmoke. The service
// has its own network namespace, so it keeps its ports.
func (m *GoImage) smokeConfig() (smoke.Config, error) {
	cfg := smoke.DefaultConfig()
	cfg.BusinessEnv, cfg.ProbeEnv = "", ""
	if m.SmokeBusinessPort != 0 {
		cfg.BusinessPort = m.SmokeBusinessPort
	}
	if m.SmokeProbePort != 0 {
		cfg.ProbePort = m.SmokeProbePort
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&cfg.HealthPath, m.SmokeHealthPath}, {&cfg.ReadyPath, m.SmokeReadyPath}, {&cfg.SlowPath, m.SmokeSlowPath}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if m.SmokeNoReadiness {
		cfg.ReadyPath = ""
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
		v    string
	}{{"startup budget", &cfg.StartupBudget, m.SmokeStartupBudget}, {"grace", &cfg.Grace, m.SmokeGrace}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil {
			return cfg, fmt.Errorf("smoke %s %q: %w (e.g. 30s)", d.name, d.v, err)
		}
		*d.dst = v
	}
	return cfg, cfg.Validate()
}

// smokeGate is the CLI's smoke gate with a Dagger service runner, which
// runs the engine's own platform.
func (m *GoImage) smokeGate(ctx context.Context, e *engine.Executor) (gates.Gate, error) {
	cfg, err := m.smokeConfig()
	if err != nil {
		return nil, err
	}
	native, err := dag.DefaultPlatform(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine platform: %w", err)
	}
	p, err := recipe.ParsePlatform(string(native))
	if err != nil {
		return nil, err
	}
	return smoke.Gate{Runner: engine.Runner{E: e}, Config: cfg, Native: p.OS + "/" + p.Arch}, nil
}

// scanPolicy reads the scan choices into the gate's policy; the ignore file
// is returned too (the source's .trivyignore when none is given), for
// Trivy's SARIF rendering.
func (m *GoImage) scanPolicy(ctx context.Context) (scan.Policy, *dagger.File, error) {
	sev, err := scan.ParseSeverity(cmp.Or(m.Severity, scan.DefaultSeverity))
	if err != nil {
		return scan.Policy{}, nil, err
	}
	p := scan.Policy{Severities: sev, IgnoreUnfixed: m.IgnoreUnfixed}
	ignorefile := m.Ignorefile
	if ignorefile == nil {
		if ok, err := m.Source.Exists(ctx, ".trivyignore"); err == nil && ok {
			ignorefile = m.Source.File(".trivyignore")
		}
	}
	if ignorefile != nil {
		text, err := ignorefile.Contents(ctx)
		if err != nil {
			return p, nil, fmt.Errorf("ignorefile: %w", err)
		}
		if p.Ignore, err = scan.ParseIgnore(".trivyignore", []byte(text)); err != nil {
			return p, nil, err
		}
	}
	return p, ignorefile, nil
}

type scanned struct {
	result report.Result
	out    scan.Output
}

// scan builds the constructor's platform and scans it.
func (m *GoImage) scan(ctx context.Context, sarif bool) (report.Result, scan.Output, error) {
	p, ignorefile, err := m.scanPolicy(ctx)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	e, b, err := m.image(ctx)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	s, err := m.scanBuilt(ctx, e, b, p, ignorefile, sarif)
	return s.result, s.out, err
}

// scanBuilt runs Trivy over b's tarball and applies the policy in Go.
func (m *GoImage) scanBuilt(ctx context.Context, e *engine.Executor, b engine.Built, p scan.Policy, ignorefile *dagger.File, sarif bool) (scanned, error) {
	// b.Tarball was written from b.Image: Trivy reads the image the gates read.
	if err := scan.CheckInput(ctx, b.Image); err != nil {
		return scanned{}, err
	}
	t := engine.Trivy{Image: m.TrivyImage, DBRepository: m.TrivyDbRepository, DB: m.TrivyDb}
	out, err := e.Scan(ctx, t, b.Tarball, ignorefile, sarif)
	if err != nil {
		return scanned{}, err
	}
	res, err := p.Judge(out)
	if err != nil {
		return scanned{}, err
	}
	return scanned{res, out}, nil
}

func checkFormat(format string) error {
	switch format {
	case "", "text", "json", "markdown", "md":
		return nil
	}
	return fmt.Errorf("format %q: use text, json or markdown", format)
}

// writeReport renders r and fails when a check failed, unless noFail.
func writeReport(r *report.Report, format string, noFail bool) (string, error) {
	var b strings.Builder
	if err := r.Write(&b, format); err != nil {
		return "", err
	}
	if err := r.Err(); err != nil && !noFail {
		return "", fmt.Errorf("%s\n%w", b.String(), err)
	}
	return b.String(), nil
}
