// Package choices is everything a user decides about one service's image,
// in the user's words: how it is built (Recipe) and how it is gated
// (Gates). Both executors bind their inputs into one Choices (the CLI its
// flags, the Dagger module its constructor and With*/Without* arguments;
// later a committed go-image.yaml), then run the same Validate and the same
// Gates.List, so a choice means the same everywhere and is checked once,
// before anything builds.
//
// A nil pointer, slice or map is a choice not made: the owning package's
// default applies (Default shows them all), and Overlay lets a later layer
// (a flag over a file) replace only what it sets. The JSON names are the
// keys a policy file will use. Choices hold no secret (credentials and
// signing keys stay with the executor), so they may be printed and
// committed.
package choices

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"dagger/go-image/internal/mains"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/size"
	"dagger/go-image/internal/upx"
)

// Choices are one image's recipe and gate policy.
type Choices struct {
	Recipe Recipe `json:"recipe,omitzero"`
	Gates  Gates  `json:"gates,omitzero"`
}

// Recipe is how the image is built: recipe.Options in the user's words.
type Recipe struct {
	// Main are the main packages, relative to the source root: directories
	// (./cmd/api) or patterns (./cmd/..., ./...), one image per main
	// package (mains.Expand); unset, the source root.
	Main []string `json:"main,omitempty"`
	// Name is the binary's name, for one main package only; unset, the
	// main package's directory or the module path's last element
	// (recipe.Options.ForModule).
	Name *string `json:"name,omitempty"`
	// GoVersion is the Dagger builder's golang:<version>-alpine tag;
	// unset, the source's go.mod decides (recipe.GoVersionOf).
	GoVersion *string `json:"goVersion,omitempty"`
	// Platforms are the target platforms, os/arch[/variant]. A release
	// builds them all; the single-image commands build the first.
	Platforms []string `json:"platforms,omitempty"`
	// Base is the final stage's base: scratch or alpine.
	Base *string `json:"base,omitempty"`
	// BaseImage is the alpine base reference, with base alpine only;
	// unset, recipe.DefaultAlpineImage.
	BaseImage *string `json:"baseImage,omitempty"`
	// Version is injected with -X VersionVar=Version and set as the
	// org.opencontainers.image.version label.
	Version *string `json:"version,omitempty"`
	// VersionVar is the string variable that receives Version, e.g.
	// main.version.
	VersionVar *string `json:"versionVar,omitempty"`
	// Ldflags are extra linker flags, after -s -w; {{.Version}} and
	// {{.Revision}} in them are replaced by Version and Revision. Tags
	// are build tags.
	Ldflags []string `json:"ldflags,omitempty"`
	Tags    []string `json:"tags,omitempty"`
	// Labels are extra OCI labels.
	Labels map[string]string `json:"labels,omitempty"`
	// SourceURL and Revision are the org.opencontainers.image.source and
	// .revision labels.
	SourceURL *string `json:"sourceURL,omitempty"`
	Revision  *string `json:"revision,omitempty"`
	// SourceDateEpoch (Unix seconds) stamps every file and the config.
	SourceDateEpoch *int64 `json:"sourceDateEpoch,omitempty"`
	// UPXCompress packs the binary with UPX in the Dagger builder; the UPX
	// gate then decides whether it ships.
	UPXCompress *bool `json:"upxCompress,omitempty"`
}

// Gates is the gate policy: the budgets, severities and switches of the
// standard gates (policy.Names).
type Gates struct {
	// MaxSize is the size gate's compressed budget, e.g. 25MB.
	MaxSize *string `json:"maxSize,omitempty"`
	// UPX is the UPX gate's policy: deny, warn or allow.
	UPX *string `json:"upx,omitempty"`
	// Skip maps a hardening check ID to the reason it is skipped.
	Skip map[string]string `json:"skip,omitempty"`
	// Off maps a gate to the reason it is switched off; the report shows
	// it as skipped with that reason.
	Off map[string]string `json:"off,omitempty"`
	// Scan is the vulnerability gate's policy.
	Scan Scan `json:"scan,omitzero"`
	// Lint is the Kubernetes analyzers' policy.
	Lint Lint `json:"lint,omitzero"`
	// Smoke is how the smoke gate runs the image.
	Smoke Smoke `json:"smoke,omitzero"`
}

// Scan is the vulnerability gate's policy.
type Scan struct {
	// Severity fails the gate: a list (HIGH,CRITICAL) or a minimum (HIGH).
	Severity *string `json:"severity,omitempty"`
	// IgnoreUnfixed ignores vulnerabilities without a fixed version.
	IgnoreUnfixed *bool `json:"ignoreUnfixed,omitempty"`
	// IgnoreFile names the accepted vulnerabilities, in .trivyignore
	// format; unset, DefaultIgnoreFile at the source root when present.
	IgnoreFile *string `json:"ignoreFile,omitempty"`
}

// Lint is the lint gate's policy.
type Lint struct {
	// Policy is the severity per analyzer, analyzer=deny|warn,…
	Policy *string `json:"policy,omitempty"`
	// OperationalRoutes are healthmux's operational route prefixes,
	// comma-separated.
	OperationalRoutes *string `json:"operationalRoutes,omitempty"`
}

// Smoke is how the smoke gate runs the image and what it expects.
type Smoke struct {
	// BusinessPort is the port the service serves business traffic on.
	BusinessPort *int `json:"businessPort,omitempty"`
	// ProbePort is the port of the probe server, not the business port.
	ProbePort *int `json:"probePort,omitempty"`
	// HealthPath is the liveness endpoint on the probe port.
	HealthPath *string `json:"healthPath,omitempty"`
	// ReadyPath "" disables the readiness checks.
	ReadyPath *string `json:"readyPath,omitempty"`
	// SlowPath "" sends SIGTERM to an idle service.
	SlowPath *string `json:"slowPath,omitempty"`
	// StartupBudget and Grace are Go durations, e.g. 10s.
	StartupBudget *string `json:"startupBudget,omitempty"`
	Grace         *string `json:"grace,omitempty"`
	// BusinessEnv and ProbeEnv tell a local runner how to move the service
	// onto free ports (NAME, or NAME=VALUE with {port}); "" keeps the
	// fixed port. A runner with its own network ignores them.
	BusinessEnv *string `json:"businessEnv,omitempty"`
	ProbeEnv    *string `json:"probeEnv,omitempty"`
}

// Error is a bad choice. Field is its place in Choices, by JSON names
// (gates.smoke.healthPath), so that each input names it its own way: the
// CLI its flag, the module its argument, a policy file its line.
type Error struct {
	Field string
	Err   error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func bad(field string, err error) error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		return err
	}
	return &Error{Field: field, Err: err}
}

// Options is the recipe of one binary as recipe.Options for the first
// platform, validated (recipe.Options.Normalize), with the name and the Go
// version still open when not given: ForModule decides them from the
// source's go.mod, which only the executor reads. Several main packages,
// or a pattern, are one binary each: expand them first (mains.Expand) and
// take each binary's options.
func (r Recipe) Options() (recipe.Options, error) {
	main, err := r.main()
	if err != nil {
		return recipe.Options{}, err
	}
	ldflags, err := expandLdflags(r.Ldflags, deref(r.Version), deref(r.Revision))
	if err != nil {
		return recipe.Options{}, err
	}
	o := recipe.Options{
		Main: main, Name: deref(r.Name), GoVersion: deref(r.GoVersion),
		Base: recipe.Base(deref(r.Base)), Version: deref(r.Version), VersionVar: deref(r.VersionVar),
		Ldflags: ldflags, Tags: slices.Clone(r.Tags), Labels: maps.Clone(r.Labels),
		Source: deref(r.SourceURL), Revision: deref(r.Revision), SourceDateEpoch: deref(r.SourceDateEpoch),
	}
	ps, err := r.PlatformList()
	if err != nil {
		return o, err
	}
	o.Platform = ps[0].String()
	for k := range o.Labels {
		if k == "" {
			return o, bad("recipe.labels", fmt.Errorf("label with an empty key: want key=value"))
		}
	}
	if _, err := o.Normalize(); err != nil {
		return o, bad(r.culprit(), err)
	}
	return o, nil
}

// main is the one main package of the recipe.
func (r Recipe) main() (string, error) {
	args, err := mains.Normalize(r.Main)
	if err != nil {
		return "", bad("recipe.main", err)
	}
	if len(args) > 1 || mains.IsPattern(args[0]) {
		return "", bad("recipe.main", fmt.Errorf("main packages %s: one image per main package: expand them with go list first (mains.Expand)", strings.Join(args, " ")))
	}
	return args[0], nil
}

// culprit is the field of the recipe that recipe.Options.Normalize
// refuses: each choice made is normalized alone, so that an error names
// its own field, as a policy file's line must. "recipe" when only their
// combination fails.
func (r Recipe) culprit() string {
	v := reflect.ValueOf(r)
	for i := range v.NumField() {
		f := v.Field(i)
		if f.IsZero() {
			continue
		}
		var one Recipe
		reflect.ValueOf(&one).Elem().Field(i).Set(f)
		main, _ := one.main()
		o := recipe.Options{
			Main: main, Name: deref(one.Name), GoVersion: deref(one.GoVersion), Base: recipe.Base(deref(one.Base)),
			Version: deref(one.Version), VersionVar: deref(one.VersionVar), Ldflags: one.Ldflags, Tags: one.Tags,
			Labels: one.Labels, Source: deref(one.SourceURL), Revision: deref(one.Revision), SourceDateEpoch: deref(one.SourceDateEpoch),
		}
		if _, err := o.Normalize(); err != nil {
			return "recipe." + jsonName(v.Type().Field(i))
		}
	}
	return "recipe"
}

// ldflagTemplate is one {{.Name}} in an ldflag.
var ldflagTemplate = regexp.MustCompile(`\{\{\s*\.([A-Za-z0-9_.]+)\s*\}\}`)

// expandLdflags replaces {{.Version}} and {{.Revision}} in the ldflags, so
// that a committed policy file can say -X main.commit={{.Revision}}. No
// other template runs: an ldflag is not a program (text/template's printf
// could allocate without bound), and anything else between {{ and }} is
// refused rather than passed to the linker.
func expandLdflags(flags []string, version, revision string) ([]string, error) {
	if flags == nil {
		return nil, nil
	}
	out := make([]string, len(flags))
	for i, f := range flags {
		var err error
		out[i] = ldflagTemplate.ReplaceAllStringFunc(f, func(m string) string {
			switch name := ldflagTemplate.FindStringSubmatch(m)[1]; name {
			case "Version":
				return version
			case "Revision":
				return revision
			default:
				err = fmt.Errorf("ldflag %q: unknown template {{.%s}}: go-image fills {{.Version}} and {{.Revision}}", f, name)
				return m
			}
		})
		if err != nil {
			return nil, bad("recipe.ldflags", err)
		}
		if strings.Contains(out[i], "{{") || strings.Contains(out[i], "}}") {
			return nil, bad("recipe.ldflags", fmt.Errorf("ldflag %q: {{ or }} outside {{.Version}} and {{.Revision}}: go-image fills only these two", f))
		}
	}
	return out, nil
}

// PlatformList is the target platforms, recipe.DefaultPlatform when none
// is given.
func (r Recipe) PlatformList() ([]recipe.Platform, error) {
	list := r.Platforms
	if list == nil {
		list = []string{recipe.DefaultPlatform}
	}
	for _, p := range list {
		if strings.Contains(p, ",") {
			return nil, bad("recipe.platforms", fmt.Errorf("platform %q: one os/arch[/variant] per entry", p))
		}
	}
	ps, err := recipe.ParsePlatforms(strings.Join(list, ","))
	return ps, bad("recipe.platforms", err)
}

// BaseImageRef is the alpine base reference as given ("": the recipe's
// default, for base alpine only).
func (r Recipe) BaseImageRef() string { return deref(r.BaseImage) }

// Compress says whether the Dagger builder packs the binary with UPX.
func (r Recipe) Compress() bool { return deref(r.UPXCompress) }

// Validate checks every choice, before anything builds, and returns the
// first bad one as an *Error: the recipe, then the gates in their order.
func (c Choices) Validate() error {
	args, err := mains.Normalize(c.Recipe.Main)
	if err != nil {
		return bad("recipe.main", err)
	}
	if c.Recipe.Name != nil && (len(args) > 1 || mains.IsPattern(args[0])) {
		return bad("recipe.name", fmt.Errorf("name %q given for several main packages (%s): each binary is named after its directory; give a name with one main package only", *c.Recipe.Name, strings.Join(args, " ")))
	}
	// The rest of the recipe is checked as any one binary's.
	one := c.Recipe
	one.Main = nil
	if _, err := one.Options(); err != nil {
		return err
	}
	return c.Gates.Validate()
}

// Default is every choice that does not depend on the source, as the
// owning packages default it: what a flag's help, an argument's doc and
// (later) `go-image config` show. Name, GoVersion and BaseImage stay unset:
// go.mod and the base decide them (see their fields).
func Default() Choices {
	smoke := Smoke{}.config()
	return Choices{
		Recipe: Recipe{
			Main: []string{mains.Default}, Platforms: []string{recipe.DefaultPlatform}, Base: new(string(recipe.Scratch)),
			Version: new(""), VersionVar: new(recipe.DefaultVersionVar), SourceURL: new(""), Revision: new(""),
			SourceDateEpoch: new(int64(0)), UPXCompress: new(false),
		},
		Gates: Gates{
			MaxSize: new(size.FormatBudget(size.DefaultMaxSize)), UPX: new(string(upx.Deny)),
			Scan: Scan{Severity: new(defaultSeverity), IgnoreUnfixed: new(false)},
			Lint: Lint{Policy: new(""), OperationalRoutes: new(defaultOperational)},
			Smoke: Smoke{
				BusinessPort: new(smoke.BusinessPort), ProbePort: new(smoke.ProbePort),
				HealthPath: new(smoke.HealthPath), ReadyPath: new(smoke.ReadyPath), SlowPath: new(smoke.SlowPath),
				StartupBudget: new(smoke.StartupBudget.String()), Grace: new(smoke.Grace.String()),
				BusinessEnv: new(smoke.BusinessEnv), ProbeEnv: new(smoke.ProbeEnv),
			},
		},
	}
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// or is *p, or def when the choice was not made.
func or[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// sortedPairs renders m as key=value, sorted: the form harden.ParseSkip
// and the flags read.
func sortedPairs(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}

// jsonName is a field's name in the policy file and in Error.Field.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}
