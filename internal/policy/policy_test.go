package policy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/harden"
	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/imagetest"
	"dagger/go-image/internal/local"
	"dagger/go-image/internal/policy"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/size"
	"dagger/go-image/internal/upx"
)

// fake is a gate that reports one pass under its name.
type fake string

func (f fake) Name() string { return string(f) }
func (f fake) Check(context.Context, v1.Image) ([]report.Result, error) {
	return []report.Result{{Gate: string(f), ID: string(f) + "/fake", Status: report.Pass}}, nil
}

func TestStandardOrder(t *testing.T) {
	full := policy.Options{Scan: fake("scan"), Lint: fake("lint"), Smoke: fake("smoke")}
	tests := []struct {
		name string
		opts policy.Options
		off  map[string]string
		want string // gate names, in order
		// results: gate name -> status, for the gates switched off
		skipped []string
	}{
		{"defaults leave out the gates that need a caller", policy.Options{}, nil, "size upx harden", nil},
		{"every gate", full, nil, "size scan upx harden lint smoke", nil},
		{"only smoke", policy.Options{Smoke: fake("smoke")}, nil, "size upx harden smoke", nil},
		{"scan off", full, map[string]string{"scan": "no trivy DB on this runner"}, "size scan upx harden lint smoke", []string{"scan"}},
		{"off without a gate", policy.Options{}, map[string]string{"smoke": "not a server"}, "size upx harden smoke", []string{"smoke"}},
		{"built-in gates off", full, map[string]string{"size": "debug image", "upx": "a", "harden": "b"}, "size scan upx harden lint smoke", []string{"size", "upx", "harden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			for g, reason := range tt.off {
				if err := o.SwitchOff(g, reason); err != nil {
					t.Fatal(err)
				}
			}
			gs := policy.Standard(o)
			var names []string
			for _, g := range gs {
				names = append(names, g.Name())
			}
			if got := strings.Join(names, " "); got != tt.want {
				t.Fatalf("gates = %s, want %s", got, tt.want)
			}
			r := gates.Run(context.Background(), imagetest.Compliant(t), gs...)
			var skipped []string
			for _, res := range r.Results {
				if res.Status != report.Skipped {
					continue
				}
				skipped = append(skipped, res.Gate)
				if res.ID != res.Gate+"/off" || !strings.Contains(res.Message, tt.off[res.Gate]) || !strings.Contains(res.Message, res.Gate+" gate switched off") {
					t.Errorf("skipped result %+v does not name the gate and the reason %q", res, tt.off[res.Gate])
				}
			}
			sort.Strings(skipped)
			sort.Strings(tt.skipped)
			if strings.Join(skipped, " ") != strings.Join(tt.skipped, " ") {
				t.Errorf("skipped gates = %v, want %v", skipped, tt.skipped)
			}
			if err := r.Err(); err != nil {
				t.Errorf("switching gates off must not fail the report: %v", err)
			}
		})
	}
}

func TestSwitchOff(t *testing.T) {
	tests := []struct {
		gate, reason, want string
	}{
		{"scan", "", "give the reason"},
		{"smoke", "  ", "give the reason"},
		{"sbom", "x", `no such gate; use one of size, scan, upx, harden, lint, smoke`},
	}
	for _, tt := range tests {
		var o policy.Options
		if err := o.SwitchOff(tt.gate, tt.reason); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SwitchOff(%q, %q) = %v, want %q", tt.gate, tt.reason, err, tt.want)
		}
		if len(o.Off) != 0 {
			t.Errorf("SwitchOff(%q, %q) recorded %v after an error", tt.gate, tt.reason, o.Off)
		}
	}
	// Off set by hand with a misspelt gate fails the report instead of
	// passing for a switched-off gate.
	r := gates.Run(context.Background(), imagetest.Compliant(t), policy.Standard(policy.Options{Off: map[string]string{"scna": "typo"}})...)
	if f := r.Failed(); len(f) != 1 || f[0].ID != "scna/off" || !strings.Contains(f[0].Message, "no such gate") {
		t.Errorf("misspelt Off entry: failed = %+v", f)
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(1)).Read(b)
	return b
}

func failedIDs(r *report.Report) []string {
	var out []string
	for _, res := range r.Failed() {
		out = append(out, res.ID)
	}
	sort.Strings(out)
	return out
}

// TestDaemonlessBuildPasses: the image the daemonless executor builds for
// the example service passes every gate with the defaults.
func TestDaemonlessBuildPasses(t *testing.T) {
	img, err := local.Build(context.Background(), local.Request{Source: imagetest.ServiceDir(), Options: recipe.Options{Main: "."}})
	if err != nil {
		t.Fatal(err)
	}
	r := gates.Run(context.Background(), img, policy.Standard(policy.Options{})...)
	if len(r.Failed()) > 0 || r.Count(report.Pass) != len(r.Results) {
		var b bytes.Buffer
		r.WriteText(&b)
		t.Fatalf("the daemonless build does not pass every gate:\n%s", b.String())
	}
	want := append([]string{size.ID, upx.ID}, harden.IDs()...)
	for i, res := range r.Results {
		if res.ID != want[i] {
			t.Fatalf("result %d = %s, want %s (order size, upx, harden)", i, res.ID, want[i])
		}
	}
}

func TestStandard(t *testing.T) {
	tests := []struct {
		name  string
		img   func(t *testing.T) v1.Image
		opts  policy.Options
		fails []string
		text  string // in the failing result's message
	}{
		{name: "compliant", img: func(t *testing.T) v1.Image { return imagetest.Compliant(t) }},
		{name: "oversize", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), imagetest.File{Path: "/data/blob", Mode: 0o644, Data: random(3_000_000)})
		}, opts: policy.Options{MaxSize: 4 * size.MB}, fails: []string{size.ID}, text: "over the 4.0 MB budget"},
		{name: "packed binary", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), imagetest.File{Path: imagetest.ServicePath, Mode: 0o555, Data: imagetest.UPXPacked()})
		}, fails: []string{harden.BuildInfo, upx.ID}, text: "or packed (UPX)"},
		{name: "packed binary allowed", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), imagetest.File{Path: imagetest.ServicePath, Mode: 0o555, Data: imagetest.UPXPacked()})
		}, opts: policy.Options{UPX: upx.Allow, Skip: map[string]string{harden.BuildInfo: "packed on purpose"}}},
		{name: "root user", img: func(t *testing.T) v1.Image {
			return imagetest.Config(t, imagetest.Compliant(t), func(c *v1.Config) { c.User = "root" })
		}, fails: []string{harden.UserNonroot}, text: "is a name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gates.Run(context.Background(), tt.img(t), policy.Standard(tt.opts)...)
			got := failedIDs(r)
			if strings.Join(got, " ") != strings.Join(tt.fails, " ") {
				var b bytes.Buffer
				r.WriteText(&b)
				t.Fatalf("failed = %v, want %v\n%s", got, tt.fails, b.String())
			}
			if len(tt.fails) > 0 && !strings.Contains(r.Failed()[0].Message+r.Failed()[len(got)-1].Message, tt.text) {
				t.Errorf("failure messages lack %q: %+v", tt.text, r.Failed())
			}
		})
	}
}

// TestRender: the report of a failing image renders in every format with
// its structure intact (volatile figures are not compared).
func TestRender(t *testing.T) {
	img := imagetest.Config(t, imagetest.Compliant(t), func(c *v1.Config) { c.User = "0" })
	r := gates.Run(context.Background(), img, policy.Standard(policy.Options{})...)
	r.Image = "service.tar"
	var text, js, md bytes.Buffer
	for f, w := range map[string]*bytes.Buffer{"text": &text, "json": &js, "markdown": &md} {
		if err := r.Write(w, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"go-image report for service.tar", "[PASS] size/compressed", "[FAIL] harden/user-nonroot", "largest files", "FAIL: 11 passed, 0 warned, 1 failed, 0 skipped"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	var parsed struct {
		Passed  bool
		Results []report.Result
	}
	if err := json.Unmarshal(js.Bytes(), &parsed); err != nil {
		t.Fatalf("json does not parse: %v", err)
	}
	if parsed.Passed || len(parsed.Results) != 12 || parsed.Results[0].Metrics["compressed_bytes"] <= 0 {
		t.Errorf("json = passed %v, %d results, metrics %v", parsed.Passed, len(parsed.Results), parsed.Results[0].Metrics)
	}
	for _, want := range []string{"## go-image report for `service.tar`", "| `harden/user-nonroot` | ❌ fail |", "<details><summary><code>size/compressed</code></summary>"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

// BenchmarkStandard runs every gate on a ~36 MB image (the compliant image
// plus 30 MB of incompressible data) read back from a tarball, as
// `go-image check` reads it.
func BenchmarkStandard(b *testing.B) {
	img := imagetest.Append(b, imagetest.Compliant(b), imagetest.File{Path: "/data/blob", Mode: 0o644, Data: random(30_000_000)})
	path := filepath.Join(b.TempDir(), "big.tar")
	if err := imagefile.Write(path, "bench:latest", img); err != nil {
		b.Fatal(err)
	}
	img, err := imagefile.Read(path)
	if err != nil {
		b.Fatal(err)
	}
	gs := policy.Standard(policy.Options{MaxSize: 100 * size.MB})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := gates.Run(context.Background(), img, gs...)
		if len(r.Failed()) > 0 {
			b.Fatalf("failed: %v", r.Err())
		}
	}
}
