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
//
// The module's files follow its concerns, as Dagger's own modules do:
// main.go (state and constructor), options.go (the With*/Without* gate
// choices), build.go (binary, build, tarball, sbom), gates.go (check and
// the single gates), release.go (release, verify) and manifest.go.
package main

import (
	"dagger/go-image/internal/dagger"
)

// GoImage builds a Go service into a hardened, minimal image and gates it.
// Its state is the recipe and the gate choices; set them with the
// constructor and the With*/Without* functions.
type GoImage struct {
	// +private
	Source *dagger.Directory
	// +private
	Main []string
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
	UpxCompress *bool
	// +private
	Builder *dagger.Container
	// +private
	TrivyImage string
	// +private
	CacheNamespace string
	// +private
	BuildCacheRepository string
	// +private
	BuildCacheKey *dagger.Secret
	// +private
	BuildCacheUsername string
	// +private
	BuildCachePassword *dagger.Secret
	// +private
	BuildCacheInsecure bool
	// +private
	Config *dagger.File
	// +private
	Jobs int

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
	IgnoreUnfixed *bool
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
	// The Go module root of the service (the directory with go.mod), with its go-image.yaml if any (default: the directory of the calling module's dagger.json, as a toolchain's workspace).
	// +defaultPath="."
	// +ignore=["**/.git", "**/*.tar", "**/node_modules", "**/.dagger"]
	source *dagger.Directory,
	// Main packages, relative to the source: directories (./cmd/api) or patterns (./cmd/..., ./...), one image per main package, named after its directory (default: ., the module root).
	// +optional
	main []string,
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
	// Extra linker flags, after -s -w: only -X, -s, -w, -B, -buildid, -checklinkname and -extldflags pass (the others can write, read or run files on the machine that builds).
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
	upxCompress *bool,
	// Builder container with the Go toolchain, instead of golang:<goVersion>-alpine: for registry mirrors, pinned digests or extra tools. go-image mounts its caches at /go/pkg/mod and /root/.cache/go-build and sets GOTOOLCHAIN=local.
	// +optional
	builder *dagger.Container,
	// Trivy image of the scan gate (default: aquasec/trivy:0.67.2, the release go-image is tested with).
	// +optional
	trivyImage string,
	// Prefix of the cache volumes: <ns>-gomod, <ns>-gobuild, <ns>-trivy-db-default or <ns>-trivy-db-<repository hash> (default: go-image).
	// +optional
	cacheNamespace string,
	// Policy file of the recipe and the gates, as go-image.yaml (default: go-image.yaml at the source root, when there is one); arguments and With* calls override it.
	// +optional
	config *dagger.File,
	// Binaries built and gated at once (default: the engine's core count).
	// +optional
	jobs int,
	// OCI repository of Trivy's vulnerability DB, a mirror of ghcr.io/aquasecurity/trivy-db (trivy --db-repository), as with-trivy-db-repository: set it here, or in a toolchain's dagger.json customizations, for dagger check.
	// +optional
	trivyDbRepository string,
) *GoImage {
	return &GoImage{
		Source: source, Main: main, Name: name, GoVersion: goVersion, Platform: platform,
		Base: base, BaseImage: baseImage, Version: version, VersionVar: versionVar, Ldflags: ldflags,
		Tags: tags, Labels: labels, SourceURL: sourceUrl, Revision: revision, SourceDateEpoch: sourceDateEpoch,
		UpxCompress: upxCompress, Builder: builder, TrivyImage: trivyImage, CacheNamespace: cacheNamespace,
		Config: config, Jobs: jobs, TrivyDbRepository: trivyDbRepository,
	}
}
