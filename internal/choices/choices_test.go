package choices_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/harden"
	"dagger/go-image/internal/imagetest"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/size"
	"dagger/go-image/internal/smoke"
	"dagger/go-image/internal/srcfile"
	"dagger/go-image/internal/upx"
)

// TestDefaultIsWhatUnsetMeans: every default Default shows is the default
// the code applies to a choice not made, so the help and docs built from
// Default cannot drift from the behaviour.
func TestDefaultIsWhatUnsetMeans(t *testing.T) {
	def, unset := choices.Default(), choices.Choices{}
	if err := def.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	pairs := []struct {
		name string
		get  func(choices.Choices) (any, error)
	}{
		{"recipe", func(c choices.Choices) (any, error) {
			o, err := c.Recipe.Options()
			if err != nil {
				return nil, err
			}
			return o.Normalize()
		}},
		{"platforms", func(c choices.Choices) (any, error) { return c.Recipe.PlatformList() }},
		{"policy", func(c choices.Choices) (any, error) { return c.Gates.Policy() }},
		{"severities", func(c choices.Choices) (any, error) { return c.Gates.Scan.Severities() }},
		{"lint", func(c choices.Choices) (any, error) { return c.Gates.Lint.Options() }},
		{"smoke", func(c choices.Choices) (any, error) { return c.Gates.Smoke.Config() }},
	}
	for _, p := range pairs {
		d, err1 := p.get(def)
		u, err2 := p.get(unset)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(d, u) {
			t.Errorf("%s: Default gives %+v (%v), unset gives %+v (%v)", p.name, d, err1, u, err2)
		}
	}
	// The defaults are the owning packages' own.
	g := def.Gates
	for got, want := range map[string]string{
		*g.MaxSize:                              size.FormatBudget(size.DefaultMaxSize),
		*g.UPX:                                  string(upx.Deny),
		*g.Scan.Severity:                        scan.DefaultSeverity,
		*g.Lint.OperationalRoutes:               lint.DefaultOperational,
		*g.Smoke.HealthPath:                     smoke.DefaultHealthPath,
		*g.Smoke.Grace:                          smoke.DefaultGrace.String(),
		*def.Recipe.Base:                        string(recipe.Scratch),
		*def.Recipe.VersionVar:                  recipe.DefaultVersionVar,
		strings.Join(def.Recipe.Platforms, ","): recipe.DefaultPlatform,
	} {
		if got != want {
			t.Errorf("Default shows %q, the owning package %q", got, want)
		}
	}
	if p, _ := g.Policy(); p.MaxSize != size.DefaultMaxSize {
		t.Errorf("the default budget reads back as %d, want size.DefaultMaxSize %d", p.MaxSize, size.DefaultMaxSize)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		c     choices.Choices
		field string
		says  string
	}{
		{"bad size", choices.Choices{Gates: choices.Gates{MaxSize: new("25M")}}, "gates.maxSize", `size "25M"`},
		{"size without a unit", choices.Choices{Gates: choices.Gates{MaxSize: new("25 apples")}}, "gates.maxSize", `max size: size "25 apples"`},
		{"empty size", choices.Choices{Gates: choices.Gates{MaxSize: new("")}}, "gates.maxSize", "want a number and a unit"},
		{"bad upx policy", choices.Choices{Gates: choices.Gates{UPX: new("sometimes")}}, "gates.upx", `upx policy "sometimes": use deny, warn or allow`},
		{"skip without a reason", choices.Choices{Gates: choices.Gates{Skip: map[string]string{harden.NoSetuid: " "}}}, "gates.skip.harden/no-setuid", "want id=reason"},
		{"skip of an unknown check", choices.Choices{Gates: choices.Gates{Skip: map[string]string{"harden/typo": "x"}}}, "gates.skip.harden/typo", "unknown check"},
		{"gate off without a reason", choices.Choices{Gates: choices.Gates{Off: map[string]string{"smoke": ""}}}, "gates.off.smoke", "give the reason"},
		{"unknown gate off", choices.Choices{Gates: choices.Gates{Off: map[string]string{"sbom": "x"}}}, "gates.off.sbom", "no such gate"},
		{"bad severity", choices.Choices{Gates: choices.Gates{Scan: choices.Scan{Severity: new("SEVERE")}}}, "gates.scan.severity", `severity "SEVERE"`},
		{"empty severity", choices.Choices{Gates: choices.Gates{Scan: choices.Scan{Severity: new("")}}}, "gates.scan.severity", "name at least one"},
		{"bad lint policy", choices.Choices{Gates: choices.Gates{Lint: choices.Lint{Policy: new("httpshutdown=later")}}}, "gates.lint.policy", "use deny"},
		{"relative health path", choices.Choices{Gates: choices.Gates{Smoke: choices.Smoke{HealthPath: new("healthz")}}}, "gates.smoke.healthPath", "must start with /"},
		{"empty health path", choices.Choices{Gates: choices.Gates{Smoke: choices.Smoke{HealthPath: new("")}}}, "gates.smoke.healthPath", "health path is empty"},
		{"port out of range", choices.Choices{Gates: choices.Gates{Smoke: choices.Smoke{ProbePort: new(0)}}}, "gates.smoke.probePort", "probe port 0"},
		{"bad grace", choices.Choices{Gates: choices.Gates{Smoke: choices.Smoke{Grace: new("30")}}}, "gates.smoke.grace", `smoke grace "30"`},
		{"bad startup budget", choices.Choices{Gates: choices.Gates{Smoke: choices.Smoke{StartupBudget: new("soon")}}}, "gates.smoke.startupBudget", "(e.g. 30s)"},
		{"bad port variable", choices.Choices{Gates: choices.Gates{Smoke: choices.Smoke{BusinessEnv: new("PORT=8080")}}}, "gates.smoke.businessEnv", "must contain {port}"},
		{"bad platform", choices.Choices{Recipe: choices.Recipe{Platforms: []string{"linux/amd64", "windows/amd64"}}}, "recipe.platforms", "only linux"},
		{"two platforms in one entry", choices.Choices{Recipe: choices.Recipe{Platforms: []string{"linux/amd64,linux/arm64"}}}, "recipe.platforms", "one os/arch[/variant] per entry"},
		{"platform twice", choices.Choices{Recipe: choices.Recipe{Platforms: []string{"linux/arm64", "linux/arm64"}}}, "recipe.platforms", "listed twice"},
		{"unknown base", choices.Choices{Recipe: choices.Recipe{Base: new("distroless")}}, "recipe.base", `base "distroless"`},
		{"main outside the source", choices.Choices{Recipe: choices.Recipe{Main: []string{"../x"}}}, "recipe.main", "inside the source"},
		{"external linking", choices.Choices{Recipe: choices.Recipe{Ldflags: []string{"-linkmode=external"}}}, "recipe.ldflags", "CGO_ENABLED=0"},
		{"unknown ldflag template", choices.Choices{Recipe: choices.Recipe{Ldflags: []string{"-X main.x={{.Env.TOKEN}}"}}}, "recipe.ldflags", "unknown template"},
		{"a template that is not one", choices.Choices{Recipe: choices.Recipe{Ldflags: []string{"-X main.x={{printf \"%099999d\" 1}}"}}}, "recipe.ldflags", "fills only these two"},
		{"a name for several mains", choices.Choices{Recipe: choices.Recipe{Main: []string{"./cmd/..."}, Name: new("api")}}, "recipe.name", "several main packages"},
		{"a control character in a version", choices.Choices{Recipe: choices.Recipe{Version: new("1.0\r-X\rmain.x=y")}}, "recipe.version", "control or invisible"},
		{"a bad version variable", choices.Choices{Recipe: choices.Recipe{VersionVar: new("version")}}, "recipe.versionVar", "importpath.name"},
		{"label with an empty key", choices.Choices{Recipe: choices.Recipe{Labels: map[string]string{"": "x"}}}, "recipe.labels", "empty key"},
	}
	fields := choices.Fields()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			var ce *choices.Error
			if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("Validate = %v (field %v), want field %s saying %q", err, ce, tt.field, tt.says)
			}
			// A field of Choices, or a key of one of its maps.
			if !slices.ContainsFunc(fields, func(f string) bool { return f == ce.Field || strings.HasPrefix(ce.Field, f+".") }) {
				t.Errorf("field %q is not a place in Choices (%v)", ce.Field, fields)
			}
		})
	}
	good := choices.Choices{
		Recipe: choices.Recipe{Main: []string{"./cmd/api"}, Platforms: []string{"linux/amd64", "linux/arm64"}, Labels: map[string]string{"team": "payments"}},
		Gates: choices.Gates{MaxSize: new("10MiB"), UPX: new("warn"), Skip: map[string]string{harden.NoSetuid: "ping"}, Off: map[string]string{"scan": "scanned by the registry"},
			Scan: choices.Scan{Severity: new("MEDIUM")}, Lint: choices.Lint{Policy: new("k8swatchcancel=warn")},
			Smoke: choices.Smoke{ReadyPath: new(""), SlowPath: new(""), BusinessEnv: new(""), Grace: new("5s")}},
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("good choices: %v", err)
	}
	p, err := good.Gates.Policy()
	if err != nil || p.MaxSize != 10*size.MiB || p.UPX != upx.Warn || p.Skip[harden.NoSetuid] != "ping" || p.Off["scan"] != "scanned by the registry" {
		t.Errorf("policy = %+v, %v", p, err)
	}
	cfg, _ := good.Gates.Smoke.Config()
	if cfg.ReadyPath != "" || cfg.SlowPath != "" || cfg.BusinessEnv != "" || cfg.ProbeEnv != smoke.DefaultProbeEnv || cfg.Grace != 5*time.Second {
		t.Errorf("smoke config = %+v: an explicit empty choice must stay empty, an unset one take the default", cfg)
	}
	o, _ := good.Recipe.Options()
	if o.Main != "./cmd/api" || o.Platform != "linux/amd64" || o.Name != "" || o.Labels["team"] != "payments" {
		t.Errorf("recipe options = %+v: want the first platform, the name left to go.mod", o)
	}
}

func TestOverlay(t *testing.T) {
	file := choices.Choices{
		Recipe: choices.Recipe{Version: new("1.0.0"), Tags: []string{"netgo"}, Labels: map[string]string{"team": "payments", "tier": "1"}},
		Gates:  choices.Gates{MaxSize: new("20MB"), Skip: map[string]string{harden.NoSetuid: "ping"}, Scan: choices.Scan{Severity: new("CRITICAL")}},
	}
	flags := choices.Choices{
		Recipe: choices.Recipe{Version: new("1.0.1"), Labels: map[string]string{"tier": "2"}},
		Gates:  choices.Gates{Smoke: choices.Smoke{ReadyPath: new("")}},
	}
	got := choices.Overlay(choices.Default(), file, flags)
	if *got.Recipe.Version != "1.0.1" || *got.Gates.MaxSize != "20MB" || *got.Gates.Scan.Severity != "CRITICAL" || *got.Gates.UPX != "deny" {
		t.Errorf("later layers must win where they choose: %+v", got)
	}
	if !reflect.DeepEqual(got.Recipe.Labels, map[string]string{"team": "payments", "tier": "2"}) || got.Gates.Skip[harden.NoSetuid] != "ping" {
		t.Errorf("maps merge key by key: labels %v, skip %v", got.Recipe.Labels, got.Gates.Skip)
	}
	if !slices.Equal(got.Recipe.Tags, []string{"netgo"}) || *got.Gates.Smoke.ReadyPath != "" || *got.Gates.Smoke.HealthPath != smoke.DefaultHealthPath {
		t.Errorf("tags %v, ready %q, health %q", got.Recipe.Tags, *got.Gates.Smoke.ReadyPath, *got.Gates.Smoke.HealthPath)
	}
	// The result is a copy: changing it changes no layer.
	*got.Recipe.Version = "x"
	got.Recipe.Labels["team"] = "x"
	got.Recipe.Tags[0] = "x"
	if *flags.Recipe.Version != "1.0.1" || file.Recipe.Labels["team"] != "payments" || file.Recipe.Tags[0] != "netgo" {
		t.Error("Overlay shares memory with a layer")
	}
	if !reflect.DeepEqual(choices.Overlay(), choices.Choices{}) {
		t.Error("no layer is no choice")
	}
}

// TestJSON: Choices serialize as a policy file will hold them: unset
// choices are absent, an explicit empty one is kept, and a round trip
// gives the same choices.
func TestJSON(t *testing.T) {
	c := choices.Choices{Gates: choices.Gates{Smoke: choices.Smoke{ReadyPath: new("")}, Off: map[string]string{"scan": "registry scans"}}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"gates":{"off":{"scan":"registry scans"},"smoke":{"readyPath":""}}}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
	def := choices.Default()
	b, err = json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	var back choices.Choices
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, def) {
		t.Errorf("round trip of the defaults:\n%s\n%+v (%v)", b, back, err)
	}
	// Every field has a JSON name, and the names are unique.
	seen := map[string]bool{}
	for _, f := range choices.Fields() {
		if strings.HasSuffix(f, ".") || strings.Contains(f, "..") || strings.HasPrefix(f, ".") || seen[f] {
			t.Errorf("field %q: every field needs its own json name", f)
		}
		seen[f] = true
	}
}

// files is a Files over a map: names as the user gave them, and the
// source root's files under "src/".
type files map[string]string

func (f files) ReadFile(_ context.Context, name string, limit int64) ([]byte, error) {
	data, ok := f[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return srcfile.ReadAll(strings.NewReader(data), name, limit)
}

func (f files) InSource(_ context.Context, name string) (string, error) {
	if _, ok := f["src/"+name]; ok {
		return "src/" + name, nil
	}
	return "", nil
}

func TestScanPolicyIgnoreFile(t *testing.T) {
	const accepted = "# not reachable\nCVE-2022-32149\n"
	tests := []struct {
		name     string
		s        choices.Scan
		files    files
		wantName string
		ids      int
		errHas   string
	}{
		{"the source's .trivyignore", choices.Scan{}, files{"src/.trivyignore": accepted}, "src/.trivyignore", 1, ""},
		{"none in the source", choices.Scan{}, files{}, "", 0, ""},
		{"a named file wins", choices.Scan{IgnoreFile: new("accepted")}, files{"accepted": accepted + "CVE-2023-1\n", "src/.trivyignore": accepted}, "accepted", 2, ""},
		{"a named file that is missing", choices.Scan{IgnoreFile: new("gone")}, files{"src/.trivyignore": accepted}, "", 0, "ignore file gone: there is no such file"},
		{"the YAML form", choices.Scan{IgnoreFile: new("ignore.yaml")}, files{"ignore.yaml": "vulnerabilities: []\n"}, "", 0, "YAML form"},
		{"a bad line", choices.Scan{}, files{"src/.trivyignore": "CVE-1 exp:tomorrow\n"}, "", 0, ".trivyignore"},
		{"the source's file over the bound", choices.Scan{}, files{"src/.trivyignore": strings.Repeat("CVE-2022-32149\n", srcfile.MaxIgnoreFile/15+1)}, "", 0, "src/.trivyignore: more than 4194304 bytes, the limit: file too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, name, err := tt.s.Policy(context.Background(), tt.files)
			if tt.errHas != "" {
				var ce *choices.Error
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || !errors.As(err, &ce) || ce.Field != "gates.scan.ignoreFile" {
					t.Fatalf("err = %v, want %q on gates.scan.ignoreFile", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			if p.Ignore != nil {
				n = len(p.Ignore.Entries)
			}
			if name != tt.wantName || n != tt.ids {
				t.Errorf("ignore file %q with %d entries, want %q with %d", name, n, tt.wantName, tt.ids)
			}
		})
	}
}

// fakeScan, fakeLint and fakeSmoke stand for an executor's runners.
type fakeScan struct{ json string }

func (f fakeScan) Scan(context.Context, string) (scan.Output, error) {
	data, err := os.ReadFile("../scan/testdata/" + f.json)
	return scan.Output{JSON: data}, err
}

type fakeLint struct{}

func (fakeLint) Lint(context.Context, lint.Options) (lint.Findings, error) {
	return lint.Findings{Dir: "/src", Packages: 1}, nil
}

type fakeSmoke struct{ started *int }

func (f fakeSmoke) Start(context.Context, v1.Image, smoke.Config) (smoke.Process, error) {
	*f.started++
	return nil, errors.New("not started: the fake only counts")
}

// TestGatesList: the one gate list of both executors, in the documented
// order, with the runners the executor gave and the choices applied.
func TestGatesList(t *testing.T) {
	ctx := context.Background()
	started := 0
	all := choices.Runners{Scan: fakeScan{"mixed.json"}, Lint: fakeLint{}, Smoke: fakeSmoke{&started}, Native: "linux/amd64"}
	tests := []struct {
		name    string
		g       choices.Gates
		r       choices.Runners
		order   string
		skipped []string // IDs
	}{
		{"every gate", choices.Gates{}, all, "size scan upx harden lint smoke", nil},
		{"no runners: the image gates alone (go-image check)", choices.Gates{}, choices.Runners{}, "size upx harden", nil},
		{"gates off need no runner", choices.Gates{Off: map[string]string{"scan": "a", "lint": "b", "smoke": "c"}}, choices.Runners{}, "size scan upx harden lint smoke", []string{"scan/off", "lint/off", "smoke/off"}},
		{"a built-in gate off", choices.Gates{Off: map[string]string{"size": "debug image"}}, choices.Runners{}, "size upx harden", []string{"size/off"}},
		{"a skipped check", choices.Gates{Skip: map[string]string{harden.NoSetuid: "ping"}}, choices.Runners{}, "size upx harden", []string{harden.NoSetuid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs, err := tt.g.List(ctx, files{}, tt.r)
			if err != nil {
				t.Fatal(err)
			}
			started = 0
			var names []string
			for _, g := range gs {
				names = append(names, g.Name())
			}
			if got := strings.Join(names, " "); got != tt.order {
				t.Errorf("gates = %s, want %s", got, tt.order)
			}
			r := gates.Run(ctx, imagetest.Compliant(t), gs...)
			var skipped []string
			for _, res := range r.Results {
				if res.Status == report.Skipped {
					skipped = append(skipped, res.ID)
				}
			}
			if strings.Join(skipped, " ") != strings.Join(tt.skipped, " ") {
				t.Errorf("skipped = %v, want %v", skipped, tt.skipped)
			}
		})
	}
	// The choices reach the gates: the scan policy with the source's
	// ignore file, the lint runner, the smoke runner on a native image.
	started = 0
	gs, err := choices.Gates{Scan: choices.Scan{Severity: new("HIGH")}}.List(ctx, files{"src/.trivyignore": "CVE-2022-32149\nCVE-2099-0002\n"}, all)
	if err != nil {
		t.Fatal(err)
	}
	r := gates.Run(ctx, imagetest.Compliant(t), gs...)
	byID := map[string]report.Result{}
	for _, res := range r.Results {
		byID[res.ID] = res
	}
	if res := byID["scan/vulnerabilities"]; res.Status != report.Pass {
		t.Errorf("scan = %+v: with its two blocking findings accepted by the source's ignore file, must pass", res)
	}
	if res := byID["lint/httpshutdown"]; res.Status != report.Pass {
		t.Errorf("lint = %+v, want the fake runner's clean findings", res)
	}
	if started != 1 {
		t.Errorf("smoke runner started %d times, want once", started)
	}
	if res := byID["smoke/error"]; res.Status != report.Fail || !strings.Contains(res.Message, "the fake only counts") {
		t.Errorf("smoke = %+v, want the runner's failure to start", res)
	}
	// A bad choice stops the list, before anything builds.
	if _, err := (choices.Gates{MaxSize: new("huge")}).List(ctx, files{}, all); err == nil {
		t.Error("a bad size choice built a gate list")
	}
	if _, err := (choices.Gates{Scan: choices.Scan{IgnoreFile: new("gone")}}).List(ctx, files{}, all); err == nil {
		t.Error("a missing ignore file built a gate list")
	}
}

func TestField(t *testing.T) {
	var c choices.Choices
	for want, ptr := range map[string]any{
		"recipe.main":                  &c.Recipe.Main,
		"recipe.platforms":             &c.Recipe.Platforms,
		"gates.maxSize":                &c.Gates.MaxSize,
		"gates.skip":                   &c.Gates.Skip,
		"gates.scan":                   &c.Gates.Scan,
		"gates.scan.severity":          &c.Gates.Scan.Severity,
		"gates.smoke.businessPort":     &c.Gates.Smoke.BusinessPort,
		"gates.smoke.probeEnv":         &c.Gates.Smoke.ProbeEnv,
		"gates.lint.operationalRoutes": &c.Gates.Lint.OperationalRoutes,
	} {
		if got := c.Field(ptr); got != want {
			t.Errorf("Field = %q, want %q", got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a pointer outside the choices must panic")
		}
	}()
	var other choices.Choices
	c.Field(&other.Gates.MaxSize)
}

func ExampleOverlay() {
	file := choices.Choices{Gates: choices.Gates{MaxSize: new("20MB"), Off: map[string]string{"scan": "scanned by the registry"}}}
	flags := choices.Choices{Gates: choices.Gates{MaxSize: new("30MB")}}
	c := choices.Overlay(choices.Default(), file, flags)
	fmt.Println(*c.Gates.MaxSize, *c.Gates.UPX, c.Gates.On("scan"), c.Gates.On("lint"))
	// Output: 30MB deny false true
}

func ExampleFields() {
	for _, f := range choices.Fields() {
		if strings.HasPrefix(f, "gates.scan") {
			fmt.Println(f)
		}
	}
	// Output:
	// gates.scan
	// gates.scan.severity
	// gates.scan.ignoreUnfixed
	// gates.scan.ignoreFile
}

// TestResolve: the origin of every choice is the last layer that made
// it, key by key for maps, and Settings lists exactly the choices made.
func TestResolve(t *testing.T) {
	at := func(kind string) func(string) choices.Origin {
		return func(field string) choices.Origin { return choices.Origin{Kind: kind, Where: field} }
	}
	file := choices.Choices{
		Recipe: choices.Recipe{Labels: map[string]string{"team": "payments", "tier": "1"}},
		Gates:  choices.Gates{MaxSize: new("20MB"), Off: map[string]string{"smoke": "needs a database"}},
	}
	flags := choices.Choices{Recipe: choices.Recipe{Labels: map[string]string{"tier": "2"}}, Gates: choices.Gates{UPX: new("warn")}}
	c, o := choices.Resolve(choices.DefaultLayer(), choices.Layer{Choices: file, Origin: at("file")}, choices.Layer{Choices: flags, Origin: at("flag")})
	if !reflect.DeepEqual(c, choices.Overlay(choices.Default(), file, flags)) {
		t.Errorf("Resolve's choices differ from Overlay's")
	}
	for field, want := range map[string]choices.Origin{
		"gates.maxSize":           {Kind: "file", Where: "gates.maxSize"},
		"gates.upx":               {Kind: "flag", Where: "gates.upx"},
		"recipe.labels.team":      {Kind: "file", Where: "recipe.labels.team"},
		"recipe.labels.tier":      {Kind: "flag", Where: "recipe.labels.tier"},
		"gates.off.smoke":         {Kind: "file", Where: "gates.off.smoke"},
		"gates.scan.severity":     {Kind: "default"},
		"gates.smoke":             {Kind: "default"},
		"gates.smoke.healthPath":  {Kind: "default"},
		"recipe.name":             {Kind: "default"}, // not chosen by any layer
		"gates.off.smoke.nothing": {Kind: "file", Where: "gates.off.smoke"},
	} {
		if got := o.Of(field); got != want {
			t.Errorf("origin of %s = %v, want %v", field, got, want)
		}
	}
	set := map[string]choices.Setting{}
	for _, s := range c.Settings(o) {
		set[s.Field] = s
	}
	if s := set["gates.maxSize"]; s.Value != `"20MB"` || s.From.Kind != "file" {
		t.Errorf("gates.maxSize setting = %+v", s)
	}
	if s := set["recipe.platforms"]; s.Value != `["linux/amd64"]` || s.From.Kind != "default" {
		t.Errorf("recipe.platforms setting = %+v", s)
	}
	if _, ok := set["recipe.name"]; ok {
		t.Error("a choice no layer made is listed as a setting")
	}
	if s := set["gates.off.smoke"]; s.Value != `"needs a database"` {
		t.Errorf("a map entry is a setting of its own: %+v", s)
	}
}

func ExampleChoices_Settings() {
	file := choices.Layer{
		Choices: choices.Choices{Gates: choices.Gates{MaxSize: new("20MB")}},
		Origin: func(string) choices.Origin {
			return choices.Origin{Kind: choices.FromFile, Where: "go-image.yaml:3:12"}
		},
	}
	flags := choices.Layer{
		Choices: choices.Choices{Gates: choices.Gates{Off: map[string]string{"scan": "the registry scans"}}},
		Origin:  func(string) choices.Origin { return choices.Origin{Kind: choices.FromFlag, Where: "--no-scan"} },
	}
	c, o := choices.Resolve(choices.DefaultLayer(), file, flags)
	for _, s := range c.Settings(o) {
		if strings.HasPrefix(s.Field, "gates.") && !strings.HasPrefix(s.Field, "gates.smoke") {
			fmt.Println(s.Field, s.Value, s.From)
		}
	}
	// Output:
	// gates.maxSize "20MB" file go-image.yaml:3:12
	// gates.upx "deny" default
	// gates.off.scan "the registry scans" flag --no-scan
	// gates.scan.severity "HIGH,CRITICAL" default
	// gates.scan.ignoreUnfixed false default
	// gates.lint.policy "" default
	// gates.lint.operationalRoutes "/metrics,/debug/,/version" default
}

func ExampleRecipe_Options() {
	r := choices.Recipe{
		Version: new("1.2.3"), Revision: new("4f2a9c1"),
		Ldflags: []string{"-X main.commit={{.Revision}}", "-X main.release={{ .Version }}"},
	}
	o, err := r.Options()
	if err == nil {
		o, err = o.Normalize()
	}
	fmt.Println(o.LdflagsString(), err)
	// Output: -s -w -X main.version=1.2.3 -X main.commit=4f2a9c1 -X main.release=1.2.3 <nil>
}
