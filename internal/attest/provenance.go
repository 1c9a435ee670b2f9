package attest

import (
	"errors"
	"net/url"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"dagger/go-image/internal/recipe"
)

// BuildType names go-image's release recipe in SLSA provenance: the
// externalParameters below are its inputs.
const BuildType = "https://go-image.dev/buildtypes/release/v1"

// Builder ids: which executor ran the recipe. A policy can require one.
const (
	BuilderCLI    = "https://go-image.dev/builders/cli/v1"
	BuilderDagger = "https://go-image.dev/builders/dagger/v1"
)

// Build is what an executor knows about one release: the inputs of the
// provenance. The executor fills it; Provenance turns it into the
// predicate.
type Build struct {
	// Recipe is the normalized recipe of the release (one platform's
	// options; Platforms lists them all).
	Recipe    recipe.Options
	Platforms []string
	// BuilderID is BuilderCLI or BuilderDagger.
	BuilderID string
	// GoImageVersion is go-image's own version or VCS revision, if known.
	GoImageVersion string
	// Dependencies are the resolved inputs besides the source: the Go
	// toolchain, the builder image, the base image (see GoToolchain, Image).
	Dependencies []ResourceDescriptor
	// StartedOn and FinishedOn bound the build and the gates.
	StartedOn, FinishedOn time.Time
	// InvocationID identifies the CI run, e.g. a GitHub Actions run URL.
	InvocationID string
	// Config is the policy file the choices came from, nil without one.
	Config *Config
}

// Config is the policy file (go-image.yaml) of a release, by path and
// digest: a verifier can tell which policy the gates applied.
type Config struct {
	Path   string            `json:"path"`
	Digest map[string]string `json:"digest"`
}

// ConfigFile is the provenance's record of the policy file at path with
// digest "sha256:<hex>".
func ConfigFile(path, digest string) *Config {
	alg, hex, _ := strings.Cut(digest, ":")
	return &Config{Path: path, Digest: map[string]string{alg: hex}}
}

// ResourceDescriptor is SLSA v1's (in-toto's) description of an artifact.
type ResourceDescriptor struct {
	Name        string            `json:"name,omitempty"`
	URI         string            `json:"uri,omitempty"`
	Digest      map[string]string `json:"digest,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Provenance is the SLSA provenance v1 predicate.
type Provenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   ExternalParameters   `json:"externalParameters"`
	InternalParameters   map[string]string    `json:"internalParameters,omitempty"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
}

// ExternalParameters are the user's inputs: where the source came from and
// the recipe options. Together with the dependencies they rebuild the
// same digest (the recipe is reproducible).
type ExternalParameters struct {
	Source    Source           `json:"source"`
	Recipe    RecipeParameters `json:"recipe"`
	Platforms []string         `json:"platforms"`
	// Config is the policy file the recipe and the gates came from.
	Config *Config `json:"config,omitempty"`
}

// Source is the source the release was built from, as the user stated it
// (--source-url, --revision).
type Source struct {
	URI      string `json:"uri,omitempty"`
	Revision string `json:"revision,omitempty"`
}

// RecipeParameters are the recipe options that change the image.
type RecipeParameters struct {
	Main            string            `json:"main"`
	Name            string            `json:"name"`
	GoVersion       string            `json:"goVersion,omitempty"`
	Base            string            `json:"base"`
	Version         string            `json:"version,omitempty"`
	VersionVar      string            `json:"versionVar,omitempty"`
	Ldflags         []string          `json:"ldflags,omitempty"`
	Tags            []string          `json:"tags,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	SourceDateEpoch int64             `json:"sourceDateEpoch"`
}

type RunDetails struct {
	Builder  Builder  `json:"builder"`
	Metadata Metadata `json:"metadata"`
}

type Builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

type Metadata struct {
	InvocationID string     `json:"invocationId,omitempty"`
	StartedOn    *time.Time `json:"startedOn,omitempty"`
	FinishedOn   *time.Time `json:"finishedOn,omitempty"`
}

// Provenance returns the SLSA provenance v1 predicate of the build.
func (b Build) Provenance() (Provenance, error) {
	if b.BuilderID == "" {
		return Provenance{}, errors.New("provenance: no builder id: use attest.BuilderCLI or attest.BuilderDagger")
	}
	o := b.Recipe
	p := Provenance{
		BuildDefinition: BuildDefinition{
			BuildType: BuildType,
			ExternalParameters: ExternalParameters{
				Source: Source{URI: o.Source, Revision: o.Revision},
				Recipe: RecipeParameters{
					Main: o.Main, Name: o.Name, GoVersion: o.GoVersion, Base: string(o.Base),
					Version: o.Version, VersionVar: o.VersionVar, Ldflags: o.Ldflags, Tags: o.Tags,
					Labels: o.Labels, SourceDateEpoch: o.SourceDateEpoch,
				},
				Platforms: b.Platforms,
				Config:    b.Config,
			},
		},
		RunDetails: RunDetails{
			Builder:  Builder{ID: b.BuilderID},
			Metadata: Metadata{InvocationID: b.InvocationID, StartedOn: utc(b.StartedOn), FinishedOn: utc(b.FinishedOn)},
		},
	}
	if b.GoImageVersion != "" {
		p.RunDetails.Builder.Version = map[string]string{"go-image": b.GoImageVersion}
	}
	if src, ok := sourceDependency(o.Source, o.Revision); ok {
		p.BuildDefinition.ResolvedDependencies = append(p.BuildDefinition.ResolvedDependencies, src)
	}
	deps := append([]ResourceDescriptor(nil), b.Dependencies...)
	sort.SliceStable(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	p.BuildDefinition.ResolvedDependencies = append(p.BuildDefinition.ResolvedDependencies, deps...)
	return p, nil
}

func utc(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// sourceDependency describes the source checkout the way SLSA's git
// convention does: git+URL, with the commit as a gitCommit digest when the
// revision is a full commit hash.
func sourceDependency(url, revision string) (ResourceDescriptor, bool) {
	if url == "" && revision == "" {
		return ResourceDescriptor{}, false
	}
	d := ResourceDescriptor{Name: "source"}
	if url != "" {
		d.URI = url
		if !strings.HasPrefix(url, "git+") {
			d.URI = "git+" + url
		}
	}
	if isCommit(revision) {
		d.Digest = map[string]string{"gitCommit": strings.ToLower(revision)}
	} else if revision != "" {
		d.Annotations = map[string]string{"revision": revision}
	}
	return d, true
}

func isCommit(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	return strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
}

// GoToolchain describes the Go toolchain that compiled the service, by the
// version the binary records (go1.26.8), so the provenance says what was
// used, not what was asked for.
func GoToolchain(goVersion string) ResourceDescriptor {
	return ResourceDescriptor{Name: "go", URI: "pkg:golang/stdlib@" + strings.TrimPrefix(goVersion, "go"),
		Annotations: map[string]string{"goVersion": goVersion}}
}

// Image describes an image the build used (name "builder" or "base") by
// the reference it was asked for, as a package URL, and the digest it
// resolved to ("sha256:…"; "" when there is none, as for scratch).
func Image(role, ref, digest string) ResourceDescriptor {
	d := ResourceDescriptor{Name: role, URI: imageURI(ref)}
	if alg, hex, ok := strings.Cut(digest, ":"); ok {
		d.Digest = map[string]string{alg: hex}
	}
	return d
}

// ImageRef is Image for a reference that carries its digest, as Dagger's
// Container.ImageRef returns it right after From: "docker.io/library/
// golang:1.26-alpine@sha256:…".
func ImageRef(role, ref string) ResourceDescriptor {
	base, digest, _ := strings.Cut(ref, "@")
	return Image(role, base, digest)
}

func imageURI(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref
	}
	repo := r.Context()
	u := "pkg:docker/" + repo.RepositoryStr()
	if t, ok := r.(name.Tag); ok {
		u += "@" + url.PathEscape(t.TagStr())
	}
	if reg := repo.RegistryStr(); reg != name.DefaultRegistry {
		u += "?repository_url=" + url.QueryEscape(reg+"/"+repo.RepositoryStr())
	}
	return u
}

// GoImageVersion is the version of the running go-image: its module
// version when installed as a module (go install …@v1.2.3), else the VCS
// revision the binary records, else "(devel)".
func GoImageVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return "(devel)"
}
