// go-image turns a Go service repository into a hardened, minimal,
// Kubernetes-ready container image and pushes it only when every gate passes.
//
// The decisions (compile flags, final-stage files, gates, push policy) live
// in the pure-Go packages under internal/; this file only wires containers
// and hands images to them, so the daemonless CLI (cmd/go-image) and this
// module behave the same.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/manifest"
	"dagger/go-image/internal/policy"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/release"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/sbom"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/smoke"
	"dagger/go-image/internal/trivy"
)

// GoImage builds a Go service into a hardened image and gates it.
type GoImage struct {
	Source          *dagger.Directory
	Main            string
	Name            string
	GoVersion       string
	Platform        string
	Base            string
	Version         string
	VersionVar      string
	Ldflags         []string
	Tags            []string
	Labels          []string
	SourceURL       string
	Revision        string
	SourceDateEpoch int
	// UpxCompress packs the binary with UPX after compiling; see New.
	UpxCompress bool
}

func New(
	// The Go module root of the service (the directory with go.mod).
	// +defaultPath="/"
	// +ignore=["**/.git", "**/*.tar", "**/node_modules", "**/.dagger"]
	source *dagger.Directory,
	// Main package, relative to the source.
	// +optional
	// +default="."
	main string,
	// Binary name (default: the main package's directory, or the module's last path element).
	// +optional
	name string,
	// golang builder image tag.
	// +optional
	// +default="1.26"
	goVersion string,
	// Target platform os/arch[/variant]; cross-compiled, never emulated.
	// +optional
	// +default="linux/amd64"
	platform string,
	// Final stage base: scratch or alpine.
	// +optional
	// +default="scratch"
	base string,
	// Version injected with -X (see versionVar) and set as the OCI version label.
	// +optional
	version string,
	// String variable that receives version.
	// +optional
	// +default="main.version"
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
	// Timestamp (Unix seconds) for every file and the image config, so the same inputs give the same digest.
	// +optional
	sourceDateEpoch int,
	// Pack the binary with UPX (upx --best --lzma) after compiling: a
	// smaller image for a slower, memory-hungrier start. Opt-in: the UPX
	// gate's policy (upx argument of Check and Release, deny by default)
	// then decides whether the packed binary may ship.
	// +optional
	upxCompress bool,
) *GoImage {
	return &GoImage{
		Source: source, Main: main, Name: name, GoVersion: goVersion, Platform: platform,
		Base: base, Version: version, VersionVar: versionVar, Ldflags: ldflags, Tags: tags,
		Labels: labels, SourceURL: sourceUrl, Revision: revision, SourceDateEpoch: sourceDateEpoch,
		UpxCompress: upxCompress,
	}
}

// options turns the module's arguments into the normalized recipe.
func (m *GoImage) options(ctx context.Context) (recipe.Options, error) {
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
				return o, fmt.Errorf("label %q: want key=value", kv)
			}
			o.Labels[k] = v
		}
	}
	if o.Name == "" {
		gomod, err := m.Source.File("go.mod").Contents(ctx)
		if err != nil {
			return o, fmt.Errorf("source: no go.mod: pass the module root of the service as --source")
		}
		mod, err := compile.ModulePathOf([]byte(gomod))
		if err != nil {
			return o, fmt.Errorf("source: %w", err)
		}
		o.Name = recipe.DefaultName(o.Main, mod)
	}
	return o.Normalize()
}

// builder is the golang stage with the module and build caches mounted.
func (m *GoImage) builder(o recipe.Options) *dagger.Container {
	return dag.Container().
		From("golang:"+o.GoVersion+"-alpine").
		WithMountedCache("/go/pkg/mod", dag.CacheVolume("go-image-gomod")).
		WithMountedCache("/root/.cache/go-build", dag.CacheVolume("go-image-gobuild")).
		WithEnvVariable("GOMODCACHE", "/go/pkg/mod").
		WithEnvVariable("GOCACHE", "/root/.cache/go-build").
		WithDirectory("/src", m.Source).
		WithWorkdir("/src")
}

// Binary compiles the service: a static, stripped binary built with
// CGO_ENABLED=0 go build -trimpath -ldflags="-s -w …" in a golang builder.
func (m *GoImage) Binary(ctx context.Context) (*dagger.File, error) {
	o, err := m.options(ctx)
	if err != nil {
		return nil, err
	}
	return m.binary(ctx, o)
}

func (m *GoImage) binary(ctx context.Context, o recipe.Options) (*dagger.File, error) {
	b := m.builder(o)
	// The same pre-flight as the CLI: a library or cgo package fails with the
	// cause, not with a linker error.
	listed, err := b.WithEnvVariable("CGO_ENABLED", "1").
		WithExec([]string{"go", "list", "-e", "-json", o.Main}).Stdout(ctx)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", o.Main, err)
	}
	if err := compile.DiagnoseJSON(o.Main, []byte(listed)); err != nil {
		return nil, err
	}
	out := "/out/" + o.Name
	c := o.Compile(out)
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		b = b.WithEnvVariable(k, v)
	}
	b = b.WithExec(c.Args)
	if m.UpxCompress {
		// The builder is golang:<v>-alpine, whose repositories carry upx.
		// Packing hides the build info the SBOM and the harden gate read,
		// so the UPX gate (deny by default) has the last word.
		b = b.WithExec([]string{"apk", "add", "--no-cache", "upx"}).WithExec([]string{"upx", "--best", "--lzma", out})
	}
	return b.File(out), nil
}

// Build returns the final image: the binary on scratch (or alpine) with the
// CA bundle, a 65532 passwd/group entry, USER 65532:65532, an exec-form
// entrypoint and OCI labels. Chain it: build export --path=app.tar,
// build as-service up --ports 8080:8080, build publish --address ….
func (m *GoImage) Build(ctx context.Context) (*dagger.Container, error) {
	o, err := m.options(ctx)
	if err != nil {
		return nil, err
	}
	return m.build(ctx, o)
}

func (m *GoImage) build(ctx context.Context, o recipe.Options) (*dagger.Container, error) {
	bin, err := m.binary(ctx, o)
	if err != nil {
		return nil, err
	}
	ctr := dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(o.Platform)})
	var passwd, group string
	if o.Base == recipe.Alpine {
		ctr = ctr.From("alpine:" + recipe.DefaultAlpine)
		if passwd, err = ctr.File(recipe.PasswdPath).Contents(ctx); err != nil {
			return nil, fmt.Errorf("alpine base: %w", err)
		}
		if group, err = ctr.File(recipe.GroupPath).Contents(ctx); err != nil {
			return nil, fmt.Errorf("alpine base: %w", err)
		}
	}
	files, err := o.Files(passwd, group, nil)
	if err != nil {
		return nil, err
	}
	// One directory holds go-image's files with the recipe's modes and owners,
	// stamped with the source date, so the layer is the same on every run.
	layer := dag.Directory()
	for _, f := range files {
		rel := strings.TrimPrefix(f.Path, "/")
		switch {
		case f.Dir:
			layer = layer.WithNewDirectory(rel, dagger.DirectoryWithNewDirectoryOpts{Permissions: int(f.Mode)})
		case f.Path == o.BinaryPath():
			layer = layer.WithFile(rel, bin, dagger.DirectoryWithFileOpts{Permissions: int(f.Mode)})
		default:
			layer = layer.WithNewFile(rel, string(f.Data), dagger.DirectoryWithNewFileOpts{Permissions: int(f.Mode)})
		}
	}
	layer = layer.WithTimestamps(m.SourceDateEpoch)
	ctr = ctr.WithDirectory("/", layer, dagger.ContainerWithDirectoryOpts{Owner: "0:0"})
	for _, f := range files {
		if f.Dir && (f.UID != 0 || f.GID != 0) {
			ctr = ctr.WithDirectory(f.Path, layer.Directory(strings.TrimPrefix(f.Path, "/")),
				dagger.ContainerWithDirectoryOpts{Owner: fmt.Sprintf("%d:%d", f.UID, f.GID)})
		}
	}
	cfg := o.ImageConfig()
	ctr = ctr.WithUser(cfg.User).
		WithWorkdir(cfg.WorkingDir).
		WithEntrypoint(cfg.Entrypoint).
		WithoutDefaultArgs()
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		ctr = ctr.WithEnvVariable(k, v)
	}
	for _, k := range sortedKeys(cfg.Labels) {
		ctr = ctr.WithLabel(k, cfg.Labels[k])
	}
	return ctr, nil
}

// image exports the container as an OCI tarball into this function's own
// filesystem and opens it, so the pure-Go gates read exactly what a registry
// would receive.
func image(ctx context.Context, ctr *dagger.Container) (v1.Image, error) {
	dir, err := os.MkdirTemp("", "go-image-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "image.tar")
	if _, err := ctr.AsTarball().Export(ctx, path); err != nil {
		return nil, fmt.Errorf("export image: %w", err)
	}
	return imagefile.Read(path)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Release builds the image for every platform, runs the gates on each
// platform's image and — only if no check failed — pushes it (an OCI index
// when several platforms are given) to every address, tags last. It returns
// the pushed reference, repo@sha256:…. Retries, the credential handling and
// the no-push-after-failure rule are the CLI's own code (internal/release).
func (m *GoImage) Release(
	ctx context.Context,
	// Where to push, REGISTRY/REPO:TAG; one or more.
	address []string,
	// Registry username, used with password. Without it the push is anonymous.
	// +optional
	username string,
	// Registry password or token. Read as plaintext only to authenticate; never printed.
	// +optional
	password *dagger.Secret,
	// Comma-separated target platforms, e.g. linux/amd64,linux/arm64 (default: the module's platform).
	// +optional
	platforms string,
	// Size gate: compressed image budget.
	// +optional
	// +default="25MB"
	maxSize string,
	// UPX gate: deny, warn or allow UPX-packed binaries.
	// +optional
	// +default="deny"
	upx string,
	// Skip a hardening check with a reason, id=reason, e.g. "harden/no-setuid=base ships ping".
	// +optional
	skip []string,
	// Push the CycloneDX SBOM as an OCI referrer of the image.
	// +optional
	attachSbom bool,
	// Allow plain HTTP and unverified TLS to the registry.
	// +optional
	insecure bool,
	// Switch the vulnerability gate off, with the reason the report records.
	// +optional
	noScan string,
	// Scan gate: severities that fail it, a list (HIGH,CRITICAL) or a minimum (HIGH = HIGH and above).
	// +optional
	// +default="HIGH,CRITICAL"
	severity string,
	// Scan gate: ignore vulnerabilities that have no fixed version.
	// +optional
	ignoreUnfixed bool,
	// Scan gate: accepted vulnerability IDs in .trivyignore format (default: .trivyignore at the source root, when present).
	// +optional
	ignorefile *dagger.File,
	// Scan gate: Trivy release to run, as the aquasec/trivy image tag.
	// +optional
	// +default="0.67.2"
	trivyVersion string,
	// Switch the lint gate (Kubernetes analyzers over the source) off, with the reason the report records.
	// +optional
	noLint string,
	// Switch the smoke gate (the image run as a service) off, with the reason the report records.
	// +optional
	noSmoke string,
	// Smoke gate: port the service serves business traffic on.
	// +optional
	// +default=8080
	businessPort int,
	// Smoke gate: port the service serves probes on; must differ from businessPort.
	// +optional
	// +default=8081
	probePort int,
	// Smoke gate: liveness endpoint on the probe port.
	// +optional
	// +default="/healthz"
	healthPath string,
	// Smoke gate: readiness endpoint on the probe port.
	// +optional
	// +default="/readyz"
	readyPath string,
	// Smoke gate: skip the readiness checks (the service has no readiness endpoint).
	// +optional
	noReadiness bool,
	// Smoke gate: business request in flight when SIGTERM is sent.
	// +optional
	// +default="/slow?d=5s"
	slowPath string,
	// Smoke gate: how long the health endpoint may take to answer 200 after start.
	// +optional
	// +default="10s"
	startupBudget string,
	// Smoke gate: termination grace period; the service must stop this long after SIGTERM.
	// +optional
	// +default="30s"
	grace string,
) (string, error) {
	o, err := m.options(ctx)
	if err != nil {
		return "", err
	}
	if platforms == "" {
		platforms = o.Platform
	}
	ps, err := recipe.ParsePlatforms(platforms)
	if err != nil {
		return "", err
	}
	// The same gates, in the same order, as Check and `go-image release`.
	cs := &containers{}
	gs, err := m.gates(ctx, o, cs, gateChoices{
		maxSize: maxSize, upx: upx, skip: skip,
		noScan: noScan, severity: severity, ignoreUnfixed: ignoreUnfixed, ignorefile: ignorefile, trivyVersion: trivyVersion,
		noLint: noLint, noSmoke: noSmoke,
		smoke: smokeArgs{businessPort, probePort, healthPath, readyPath, noReadiness, slowPath, startupBudget, grace},
	})
	if err != nil {
		return "", err
	}
	var creds push.Credentials
	if username != "" || password != nil {
		if username == "" || password == nil {
			return "", fmt.Errorf("registry credentials: give both username and password, or neither")
		}
		pw, err := password.Plaintext(ctx)
		if err != nil {
			return "", fmt.Errorf("registry password secret: %w", err)
		}
		creds = push.Credentials{Username: username, Password: pw, PasswordFrom: "the password secret"}
	}
	res, err := release.Run(ctx, release.Request{
		Platforms: ps, Build: m.platformImage(o, cs), Gates: gs, Addresses: address,
		Push:       push.Options{Credentials: creds, Insecure: insecure, Log: os.Stderr},
		AttachSBOM: attachSbom, Version: o.Version, Created: o.Created(), Log: os.Stderr,
	})
	if res != nil && len(res.Report.Results) > 0 {
		_ = res.Report.WriteText(os.Stderr)
	}
	if err != nil {
		return "", err
	}
	return res.Pushed.Ref(), nil
}

// platformImage builds the recipe for one platform with the module's
// containers and opens the result for the pure-Go gates.
func (m *GoImage) platformImage(o recipe.Options, cs *containers) release.Builder {
	return func(ctx context.Context, p recipe.Platform) (v1.Image, error) {
		po := o
		po.Platform = p.String()
		ctr, err := m.build(ctx, po)
		if err != nil {
			return nil, err
		}
		return cs.image(ctx, ctr)
	}
}

// Check builds the image and runs go-image's gates on it, in the same order
// and with the same options as Release and `go-image release`
// (internal/policy): size, scan, upx, harden, lint, smoke. A gate is
// switched off only with a reason (noScan, noLint, noSmoke), which the
// report shows. It returns the report, and fails when a check fails unless
// noFail is set.
func (m *GoImage) Check(
	ctx context.Context,
	// Compressed size budget (what a registry stores): B, kB, MB, GB (decimal) or KiB, MiB, GiB.
	// +optional
	// +default="25MB"
	maxSize string,
	// UPX-packed binaries: deny (fail), warn (pass with a warning) or allow.
	// +optional
	// +default="deny"
	upx string,
	// Skip a hardening check with a reason, id=reason, e.g. "harden/no-setuid=base ships ping".
	// +optional
	skip []string,
	// Report format: text, json or markdown.
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when a check fails.
	// +optional
	noFail bool,
	// Switch the vulnerability gate off, with the reason the report records.
	// +optional
	noScan string,
	// Scan gate: severities that fail it, a list (HIGH,CRITICAL) or a minimum (HIGH = HIGH and above).
	// +optional
	// +default="HIGH,CRITICAL"
	severity string,
	// Scan gate: ignore vulnerabilities that have no fixed version.
	// +optional
	ignoreUnfixed bool,
	// Scan gate: accepted vulnerability IDs in .trivyignore format (default: .trivyignore at the source root, when present).
	// +optional
	ignorefile *dagger.File,
	// Scan gate: Trivy release to run, as the aquasec/trivy image tag.
	// +optional
	// +default="0.67.2"
	trivyVersion string,
	// Switch the lint gate (Kubernetes analyzers over the source) off, with the reason the report records.
	// +optional
	noLint string,
	// Switch the smoke gate (the image run as a service) off, with the reason the report records.
	// +optional
	noSmoke string,
	// Smoke gate: port the service serves business traffic on.
	// +optional
	// +default=8080
	businessPort int,
	// Smoke gate: port the service serves probes on; must differ from businessPort.
	// +optional
	// +default=8081
	probePort int,
	// Smoke gate: liveness endpoint on the probe port.
	// +optional
	// +default="/healthz"
	healthPath string,
	// Smoke gate: readiness endpoint on the probe port.
	// +optional
	// +default="/readyz"
	readyPath string,
	// Smoke gate: skip the readiness checks (the service has no readiness endpoint).
	// +optional
	noReadiness bool,
	// Smoke gate: business request in flight when SIGTERM is sent.
	// +optional
	// +default="/slow?d=5s"
	slowPath string,
	// Smoke gate: how long the health endpoint may take to answer 200 after start.
	// +optional
	// +default="10s"
	startupBudget string,
	// Smoke gate: termination grace period; the service must stop this long after SIGTERM.
	// +optional
	// +default="30s"
	grace string,
) (string, error) {
	switch format {
	case "", "text", "json", "markdown", "md":
	default:
		return "", fmt.Errorf("format %q: use text, json or markdown", format)
	}
	o, err := m.options(ctx)
	if err != nil {
		return "", err
	}
	// Parse before building: a typo should not cost a compile.
	cs := &containers{}
	gs, err := m.gates(ctx, o, cs, gateChoices{
		maxSize: maxSize, upx: upx, skip: skip,
		noScan: noScan, severity: severity, ignoreUnfixed: ignoreUnfixed, ignorefile: ignorefile, trivyVersion: trivyVersion,
		noLint: noLint, noSmoke: noSmoke,
		smoke: smokeArgs{businessPort, probePort, healthPath, readyPath, noReadiness, slowPath, startupBudget, grace},
	})
	if err != nil {
		return "", err
	}
	ctr, err := m.build(ctx, o)
	if err != nil {
		return "", err
	}
	img, err := cs.image(ctx, ctr)
	if err != nil {
		return "", err
	}
	return writeReport(gates.Run(ctx, img, gs...), format, noFail)
}

// gateChoices are the gate arguments Check and Release share.
type gateChoices struct {
	maxSize, upx string
	skip         []string

	noScan, severity string
	ignoreUnfixed    bool
	ignorefile       *dagger.File
	trivyVersion     string

	noLint, noSmoke string
	smoke           smokeArgs
}

// gates returns the standard gate list (internal/policy) with the module's
// scan, lint and smoke as gates. Scan and smoke act on the container each
// image was exported from (cs), so they judge the image the other gates read.
func (m *GoImage) gates(ctx context.Context, o recipe.Options, cs *containers, c gateChoices) ([]gates.Gate, error) {
	opts, err := policy.Parse(c.maxSize, c.upx, c.skip)
	if err != nil {
		return nil, err
	}
	for gate, reason := range map[string]string{"scan": c.noScan, "lint": c.noLint, "smoke": c.noSmoke} {
		if reason != "" {
			if err := opts.SwitchOff(gate, reason); err != nil {
				return nil, err
			}
		}
	}
	if c.noScan == "" {
		sp, ignorefile, err := m.scanPolicy(ctx, c.severity, c.ignoreUnfixed, c.ignorefile)
		if err != nil {
			return nil, err
		}
		opts.Scan = policy.Func("scan", func(ctx context.Context, img v1.Image) ([]report.Result, error) {
			ctr, err := cs.of(img)
			if err != nil {
				return nil, err
			}
			res, _, err := scanContainer(ctx, ctr, sp, ignorefile, c.trivyVersion, false)
			return []report.Result{res}, err
		})
	}
	if c.noLint == "" {
		opts.Lint = policy.SourceFunc("lint", func(ctx context.Context) ([]report.Result, error) {
			return m.lint(ctx, o)
		})
	}
	if c.noSmoke == "" {
		cfg, err := c.smoke.config()
		if err != nil {
			return nil, err
		}
		opts.Smoke = policy.Func("smoke", func(ctx context.Context, img v1.Image) ([]report.Result, error) {
			ctr, err := cs.of(img)
			if err != nil {
				return nil, err
			}
			return smokeRun(ctx, ctr, cfg)
		})
	}
	return policy.Standard(opts), nil
}

// containers remembers the container each gated image was exported from,
// by digest: scan and smoke run in Dagger, on the very image the pure-Go
// gates read.
type containers struct {
	mu sync.Mutex
	m  map[v1.Hash]*dagger.Container
}

// image exports ctr (see image) and remembers it.
func (cs *containers) image(ctx context.Context, ctr *dagger.Container) (v1.Image, error) {
	img, err := image(ctx, ctr)
	if err != nil {
		return nil, err
	}
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = map[v1.Hash]*dagger.Container{}
	}
	cs.m[d] = ctr
	return img, nil
}

func (cs *containers) of(img v1.Image) (*dagger.Container, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	ctr, ok := cs.m[d]
	if !ok {
		return nil, fmt.Errorf("image %s was not built by this call (module wiring bug)", d)
	}
	return ctr, nil
}

// Sbom returns the image's CycloneDX 1.5 SBOM (JSON), read from the service
// binary's Go build information: the main module, every linked module with
// its go.sum hash, and the Go standard library.
func (m *GoImage) Sbom(ctx context.Context) (*dagger.File, error) {
	o, err := m.options(ctx)
	if err != nil {
		return nil, err
	}
	ctr, err := m.build(ctx, o)
	if err != nil {
		return nil, err
	}
	img, err := image(ctx, ctr)
	if err != nil {
		return nil, err
	}
	bi, err := sbom.BuildInfo(img)
	if err != nil {
		return nil, err
	}
	doc, err := sbom.Generate(sbom.Subject{Name: o.Name, Version: o.Version, Platforms: []string{o.Platform}, Created: o.Created()}, bi)
	if err != nil {
		return nil, err
	}
	return dag.Directory().WithNewFile("sbom.cdx.json", string(doc)).File("sbom.cdx.json"), nil
}

// --- vulnerability gate (scan) ---

// Scan builds the image and runs the vulnerability gate: the pinned Trivy
// release image scans the image tarball, and go-image's policy (the same Go
// code as `go-image scan`) decides. It returns the report; a failing gate is
// an error that carries the report.
func (m *GoImage) Scan(
	ctx context.Context,
	// Severities that fail the gate: a list (HIGH,CRITICAL) or a minimum (HIGH = HIGH and above).
	// +optional
	// +default="HIGH,CRITICAL"
	severity string,
	// Ignore vulnerabilities that have no fixed version.
	// +optional
	ignoreUnfixed bool,
	// Accepted vulnerability IDs in .trivyignore format (default: .trivyignore at the source root, when present).
	// +optional
	ignorefile *dagger.File,
	// Trivy release to run, as the aquasec/trivy image tag.
	// +optional
	// +default="0.67.2"
	trivyVersion string,
) (string, error) {
	res, _, err := m.scan(ctx, severity, ignoreUnfixed, ignorefile, trivyVersion, false)
	if err != nil {
		return "", err
	}
	rep := &report.Report{Results: []report.Result{res}}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		return "", err
	}
	if err := rep.Err(); err != nil {
		return "", fmt.Errorf("%s\n%w", b.String(), err)
	}
	return b.String(), nil
}

// ScanReport runs the same scan and returns Trivy's reports for upload:
// trivy.json (every finding, before go-image's policy) and trivy.sarif
// (SARIF 2.1.0, ignore file applied), plus go-image's verdict in
// go-image-scan.json. It does not fail when the gate does.
func (m *GoImage) ScanReport(
	ctx context.Context,
	// Severities that fail the gate: a list (HIGH,CRITICAL) or a minimum (HIGH = HIGH and above).
	// +optional
	// +default="HIGH,CRITICAL"
	severity string,
	// Ignore vulnerabilities that have no fixed version.
	// +optional
	ignoreUnfixed bool,
	// Accepted vulnerability IDs in .trivyignore format (default: .trivyignore at the source root, when present).
	// +optional
	ignorefile *dagger.File,
	// Trivy release to run, as the aquasec/trivy image tag.
	// +optional
	// +default="0.67.2"
	trivyVersion string,
) (*dagger.Directory, error) {
	res, out, err := m.scan(ctx, severity, ignoreUnfixed, ignorefile, trivyVersion, true)
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

// scan builds the image, runs Trivy over its tarball and evaluates the JSON
// report with internal/scan.
func (m *GoImage) scan(ctx context.Context, severity string, ignoreUnfixed bool, ignorefile *dagger.File, trivyVersion string, sarif bool) (report.Result, scan.Output, error) {
	p, ignorefile, err := m.scanPolicy(ctx, severity, ignoreUnfixed, ignorefile)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	o, err := m.options(ctx)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	ctr, err := m.build(ctx, o)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	return scanContainer(ctx, ctr, p, ignorefile, trivyVersion, sarif)
}

// scanPolicy reads the scan arguments into the gate's policy; the ignore
// file is returned too (the source's .trivyignore when none is given), for
// Trivy's SARIF rendering.
func (m *GoImage) scanPolicy(ctx context.Context, severity string, ignoreUnfixed bool, ignorefile *dagger.File) (scan.Policy, *dagger.File, error) {
	sev, err := scan.ParseSeverity(severity)
	if err != nil {
		return scan.Policy{}, nil, err
	}
	p := scan.Policy{Severities: sev, IgnoreUnfixed: ignoreUnfixed}
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

// scanContainer runs Trivy over the container's tarball and evaluates the
// JSON report with internal/scan.
func scanContainer(ctx context.Context, ctr *dagger.Container, p scan.Policy, ignorefile *dagger.File, trivyVersion string, sarif bool) (report.Result, scan.Output, error) {
	out, err := trivyScan(ctx, ctr.AsTarball(), trivyVersion, ignorefile, sarif)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	r, err := scan.ParseReport(out.JSON)
	if err != nil {
		return report.Result{}, scan.Output{}, err
	}
	res := p.Evaluate(r)
	p.CheckDBAge(&res, out.DBUpdatedAt)
	return res, out, nil
}

// trivyScan runs the aquasec/trivy release image over an image tarball with
// the same arguments as the CLI (internal/trivy.ImageArgs). The DB lives in
// a cache volume; it is refreshed at most once an hour (the epoch variable
// keeps Dagger from reusing an older DB step or scan), then the scan itself
// runs with --skip-db-update, exactly as offline.
func trivyScan(ctx context.Context, tarball *dagger.File, version string, ignorefile *dagger.File, sarif bool) (scan.Output, error) {
	if version == "" {
		version = strings.TrimPrefix(trivy.PinnedVersion, "v")
	}
	const cache, dir = "/trivy-cache", "/work"
	c := dag.Container().
		From("aquasec/trivy:"+strings.TrimPrefix(version, "v")).
		WithMountedCache(cache, dag.CacheVolume("go-image-trivy-db"), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked}).
		WithMountedFile(dir+"/image.tar", tarball).
		WithWorkdir(dir).
		WithEnvVariable("GOIMAGE_DB_EPOCH", time.Now().UTC().Format("2006-01-02T15")).
		WithExec([]string{"trivy", "image", "--download-db-only", "--cache-dir", cache,
			"--no-progress", "--quiet", "--skip-version-check", "--disable-telemetry"}).
		WithExec(append([]string{"trivy"}, trivy.ImageArgs(dir+"/image.tar", cache, dir+"/report.json")...))
	js, err := c.File(dir + "/report.json").Contents(ctx)
	if err != nil {
		return scan.Output{}, fmt.Errorf("trivy %s: %w", version, err)
	}
	out := scan.Output{JSON: []byte(js)}
	// The cache volume is a mount, not part of the image: read it with cat.
	if meta, err := c.WithExec([]string{"cat", cache + "/db/metadata.json"}).Stdout(ctx); err == nil {
		if m, err := trivy.ReadDBMeta([]byte(meta)); err == nil {
			out.DBUpdatedAt = m.UpdatedAt
		}
	}
	if sarif {
		ignore := ""
		if ignorefile != nil {
			ignore = dir + "/.trivyignore"
			c = c.WithMountedFile(ignore, ignorefile)
		}
		s, err := c.WithExec(append([]string{"trivy"}, trivy.ConvertArgs(dir+"/report.json", dir+"/report.sarif", ignore)...)).
			File(dir + "/report.sarif").Contents(ctx)
		if err != nil {
			return scan.Output{}, fmt.Errorf("trivy convert: %w", err)
		}
		out.SARIF = []byte(s)
	}
	return out, nil
}

// Smoke builds the image, runs it as a Dagger service and checks what a
// Kubernetes pod needs from it, with the same checks as `go-image smoke`:
// the health path answers 200 on the probe port within the start-up budget,
// the business port does not serve it, the ready path answers 200 only once
// the business port accepts, and on SIGTERM (Service.Stop without kill)
// readiness turns 503, the in-flight slow request completes and the
// service stops within the grace period. A client container bound to the
// service drives it (internal/smoke.ClientScript); events are ordered by
// host uptime. The exit status is not visible through Dagger, so a missing
// SIGTERM handler shows as a dropped request and no 503, not as the kill.
func (m *GoImage) Smoke(
	ctx context.Context,
	// Port the service serves business traffic on.
	// +optional
	// +default=8080
	businessPort int,
	// Port the service serves probes on; must differ from businessPort.
	// +optional
	// +default=8081
	probePort int,
	// Liveness endpoint on the probe port.
	// +optional
	// +default="/healthz"
	healthPath string,
	// Readiness endpoint on the probe port.
	// +optional
	// +default="/readyz"
	readyPath string,
	// Skip the readiness checks (the service has no readiness endpoint).
	// +optional
	noReadiness bool,
	// Business request in flight when SIGTERM is sent. Longer than the
	// CLI's 2 s: SIGTERM goes out 2 s after the client container starts.
	// +optional
	// +default="/slow?d=5s"
	slowPath string,
	// How long the health endpoint may take to answer 200 after start.
	// +optional
	// +default="10s"
	startupBudget string,
	// Termination grace period: the service must stop this long after SIGTERM.
	// +optional
	// +default="30s"
	grace string,
	// Report format: text, json or markdown.
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when a check fails.
	// +optional
	noFail bool,
) (string, error) {
	cfg, err := smokeArgs{businessPort, probePort, healthPath, readyPath, noReadiness, slowPath, startupBudget, grace}.config()
	if err != nil {
		return "", err
	}
	ctr, err := m.Build(ctx)
	if err != nil {
		return "", err
	}
	res, err := smokeRun(ctx, ctr, cfg)
	if err != nil {
		return "", err
	}
	return writeReport(&report.Report{Results: res}, format, noFail)
}

// smokeArgs are Smoke's arguments, shared with Check and Release.
type smokeArgs struct {
	businessPort, probePort        int
	healthPath, readyPath          string
	noReadiness                    bool
	slowPath, startupBudget, grace string
}

// config validates the arguments into the smoke configuration.
func (a smokeArgs) config() (smoke.Config, error) {
	cfg := smoke.DefaultConfig()
	cfg.BusinessPort, cfg.ProbePort, cfg.HealthPath, cfg.ReadyPath, cfg.SlowPath = a.businessPort, a.probePort, a.healthPath, a.readyPath, a.slowPath
	if a.noReadiness {
		cfg.ReadyPath = ""
	}
	// The service has its own network namespace: it keeps its ports.
	cfg.BusinessEnv, cfg.ProbeEnv = "", ""
	var err error
	if cfg.StartupBudget, err = time.ParseDuration(a.startupBudget); err != nil {
		return cfg, fmt.Errorf("startupBudget %q: %w", a.startupBudget, err)
	}
	if cfg.Grace, err = time.ParseDuration(a.grace); err != nil {
		return cfg, fmt.Errorf("grace %q: %w", a.grace, err)
	}
	return cfg, cfg.Validate()
}

// smokeRun runs ctr as a Dagger service, drives it from a client container
// and judges what it observed (see Smoke).
func smokeRun(ctx context.Context, ctr *dagger.Container, cfg smoke.Config) ([]report.Result, error) {
	var err error
	// No health check on the ports: the client measures start-up itself,
	// and a readiness lie before the business port opens stays visible.
	skip := dagger.ContainerWithExposedPortOpts{ExperimentalSkipHealthcheck: true}
	// A fresh service and fresh client runs on every call, never cached.
	nonce := strconv.FormatInt(time.Now().UnixNano(), 10)
	svc := ctr.WithExposedPort(cfg.BusinessPort, skip).WithExposedPort(cfg.ProbePort, skip).
		WithEnvVariable("GO_IMAGE_SMOKE_RUN", nonce).
		AsService(dagger.ContainerAsServiceOpts{UseEntrypoint: true})
	run := smoke.ClientRun{Runner: "dagger service (Container.AsService, driven from a client container by service binding, SIGTERM by Service.Stop)", Grace: cfg.Grace}
	if run.Started, err = smoke.Uptime(); err != nil {
		return nil, err
	}
	if svc, err = svc.Start(ctx); err != nil {
		run.StartErr = err
	} else {
		defer svc.Stop(context.WithoutCancel(ctx), dagger.ServiceStopOpts{Kill: true})
		client := dag.Container().From("alpine:"+recipe.DefaultAlpine).
			WithExec([]string{"apk", "add", "--no-cache", "curl"}).
			WithServiceBinding("app", svc).
			WithEnvVariable("GO_IMAGE_SMOKE_RUN", nonce)
		phase := func(ctx context.Context, name string) (string, error) {
			env := smoke.ClientEnv(cfg, "app", name)
			c := client
			for _, k := range sortedKeys(env) {
				c = c.WithEnvVariable(k, env[k])
			}
			return c.WithExec([]string{"sh", "-c", smoke.ClientScript}).Stdout(ctx)
		}
		if run.Start, err = phase(ctx, "start"); err != nil {
			return nil, fmt.Errorf("smoke client (start): %w", err)
		}
		type result struct {
			out string
			err error
		}
		term := make(chan result, 1)
		go func() {
			out, err := phase(ctx, "term")
			term <- result{out, err}
		}()
		time.Sleep(2 * time.Second)
		run.TermSent, _ = smoke.Uptime()
		sctx, cancel := context.WithTimeout(ctx, cfg.Grace)
		_, run.StopErr = svc.Stop(sctx, dagger.ServiceStopOpts{Kill: false})
		cancel()
		run.Stopped, _ = smoke.Uptime()
		select {
		case r := <-term:
			if r.err != nil {
				return nil, fmt.Errorf("smoke client (term): %w", r.err)
			}
			run.Term = r.out
		case <-time.After(cfg.Grace + 30*time.Second):
			return nil, fmt.Errorf("smoke client (term): no result %s after SIGTERM", cfg.Grace+30*time.Second)
		}
	}
	return smoke.Evaluate(cfg, run.Observe(cfg)), nil
}

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
	// terminationGracePeriodSeconds; keep it equal to Smoke's grace.
	// +optional
	// +default=30
	graceSeconds int,
	// +optional
	// +default="100m"
	cpuRequest string,
	// +optional
	// +default="64Mi"
	memoryRequest string,
	// +optional
	cpuLimit string,
	// +optional
	memoryLimit string,
	// Container environment variables, NAME=VALUE.
	// +optional
	env []string,
) (*dagger.File, error) {
	o := manifest.Options{
		Image: image, Name: name, Namespace: namespace, Replicas: int32(replicas),
		BusinessPort: int32(businessPort), ProbePort: int32(probePort), ServicePort: int32(servicePort),
		HealthPath: healthPath, ReadyPath: readyPath, InitialDelaySeconds: int32(initialDelay), AnyInitialDelay: anyInitialDelay,
		FailureThreshold: int32(failureThreshold), GraceSeconds: int64(graceSeconds),
		CPURequest: cpuRequest, MemoryRequest: memoryRequest, CPULimit: cpuLimit, MemoryLimit: memoryLimit, Env: env,
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

// Lint runs go-image's Kubernetes analyzers (clients built per request,
// uncancellable watches and informers, servers that cannot drain, health
// routes on the business mux) over every package of the source, as
// `go vet -vettool=k8slint` in the builder. Same checks as `go-image lint`.
func (m *GoImage) Lint(
	ctx context.Context,
	// Report format: text, json or markdown.
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when an analyzer reports.
	// +optional
	noFail bool,
) (string, error) {
	o, err := m.options(ctx)
	if err != nil {
		return "", err
	}
	res, err := m.lint(ctx, o)
	if err != nil {
		return "", err
	}
	return writeReport(&report.Report{Results: res}, format, noFail)
}

// lint runs go vet with the k8slint tool over the source in the builder.
func (m *GoImage) lint(ctx context.Context, o recipe.Options) ([]report.Result, error) {
	tool := dag.Container().From("golang:"+o.GoVersion+"-alpine").
		WithMountedCache("/go/pkg/mod", dag.CacheVolume("go-image-gomod")).
		WithMountedCache("/root/.cache/go-build", dag.CacheVolume("go-image-gobuild")).
		WithDirectory("/go-image", dag.CurrentModule().Source()).
		WithWorkdir("/go-image").
		WithEnvVariable("CGO_ENABLED", "0").
		WithExec([]string{"go", "build", "-o", "/out/k8slint", "./cmd/k8slint"}).
		File("/out/k8slint")
	vet := m.builder(o).
		WithFile("/usr/local/bin/k8slint", tool).
		WithExec([]string{"go", "vet", "-vettool=/usr/local/bin/k8slint", "-json", "./..."}, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := vet.ExitCode(ctx)
	if err != nil {
		return nil, fmt.Errorf("go vet: %w", err)
	}
	out, err := vet.Stderr(ctx)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("go vet -vettool=k8slint exited %d (does the source build?):\n%s", code, out)
	}
	findings, err := lint.ParseVetJSON(strings.NewReader(out))
	if err != nil {
		return nil, err
	}
	return lint.Results("/src", -1, lint.Analyzers(), findings), nil
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
