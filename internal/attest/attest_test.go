package attest_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
)

var digest = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}

func ExampleBuild_Provenance() {
	b := attest.Build{
		Recipe: recipe.Options{Main: ".", Name: "api", Base: recipe.Scratch, Version: "1.2.3", VersionVar: "main.version",
			Source: "https://github.com/acme/api", Revision: "0123456789abcdef0123456789abcdef01234567", SourceDateEpoch: 1700000000},
		Platforms: []string{"linux/amd64"},
		BuilderID: attest.BuilderCLI,
		Dependencies: []attest.ResourceDescriptor{
			attest.GoToolchain("go1.26.8"),
			attest.Image("builder", "golang:1.26-alpine", "sha256:"+strings.Repeat("0", 64)),
		},
		StartedOn:  time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC),
		FinishedOn: time.Date(2026, 5, 1, 10, 1, 30, 0, time.UTC),
		Config:     attest.ConfigFile("go-image.yaml", "sha256:"+strings.Repeat("c", 64)),
	}
	p, err := b.Provenance()
	if err != nil {
		panic(err)
	}
	out, _ := json.MarshalIndent(p, "", "  ")
	fmt.Println(string(out))
	// Output:
	// {
	//   "buildDefinition": {
	//     "buildType": "https://go-image.dev/buildtypes/release/v1",
	//     "externalParameters": {
	//       "source": {
	//         "uri": "https://github.com/acme/api",
	//         "revision": "0123456789abcdef0123456789abcdef01234567"
	//       },
	//       "recipe": {
	//         "main": ".",
	//         "name": "api",
	//         "base": "scratch",
	//         "version": "1.2.3",
	//         "versionVar": "main.version",
	//         "sourceDateEpoch": 1700000000
	//       },
	//       "platforms": [
	//         "linux/amd64"
	//       ],
	//       "config": {
	//         "path": "go-image.yaml",
	//         "digest": {
	//           "sha256": "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	//         }
	//       }
	//     },
	//     "resolvedDependencies": [
	//       {
	//         "name": "source",
	//         "uri": "git+https://github.com/acme/api",
	//         "digest": {
	//           "gitCommit": "0123456789abcdef0123456789abcdef01234567"
	//         }
	//       },
	//       {
	//         "name": "builder",
	//         "uri": "pkg:docker/library/golang@1.26-alpine",
	//         "digest": {
	//           "sha256": "0000000000000000000000000000000000000000000000000000000000000000"
	//         }
	//       },
	//       {
	//         "name": "go",
	//         "uri": "pkg:golang/stdlib@1.26.8",
	//         "annotations": {
	//           "goVersion": "go1.26.8"
	//         }
	//       }
	//     ]
	//   },
	//   "runDetails": {
	//     "builder": {
	//       "id": "https://go-image.dev/builders/cli/v1"
	//     },
	//     "metadata": {
	//       "startedOn": "2026-05-01T10:00:00Z",
	//       "finishedOn": "2026-05-01T10:01:30Z"
	//     }
	//   }
	// }
}

func TestImageURI(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"alpine:3.22", "pkg:docker/library/alpine@3.22"},
		{"golang:1.26-alpine", "pkg:docker/library/golang@1.26-alpine"},
		{"registry.example:5000/mirror/alpine:3.22", "pkg:docker/mirror/alpine@3.22?repository_url=registry.example%3A5000%2Fmirror%2Falpine"},
		{"alpine@sha256:" + strings.Repeat("1", 64), "pkg:docker/library/alpine"},
	}
	for _, tt := range tests {
		if got := attest.Image("base", tt.ref, "").URI; got != tt.want {
			t.Errorf("Image(%q).URI = %q, want %q", tt.ref, got, tt.want)
		}
	}
	d := attest.ImageRef("builder", "docker.io/library/golang:1.26-alpine@sha256:"+strings.Repeat("2", 64))
	if d.Name != "builder" || d.URI != "pkg:docker/library/golang@1.26-alpine" || d.Digest["sha256"] != strings.Repeat("2", 64) {
		t.Errorf("ImageRef = %+v", d)
	}
}

func TestSourceRevision(t *testing.T) {
	for _, tt := range []struct {
		url, rev string
		want     string
	}{
		{"", "", "[]"},
		{"https://github.com/acme/api", "v1.2.3", `[{"name":"source","uri":"git+https://github.com/acme/api","annotations":{"revision":"v1.2.3"}}]`},
		{"git+ssh://git@example.com/api.git", "", `[{"name":"source","uri":"git+ssh://git@example.com/api.git"}]`},
	} {
		p, err := attest.Build{Recipe: recipe.Options{Source: tt.url, Revision: tt.rev}, BuilderID: attest.BuilderDagger}.Provenance()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(p.BuildDefinition.ResolvedDependencies)
		if tt.want == "[]" && string(got) == "null" {
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s %s: dependencies %s, want %s", tt.url, tt.rev, got, tt.want)
		}
	}
	if _, err := (attest.Build{}).Provenance(); err == nil {
		t.Error("no builder id: want an error")
	}
}

func TestStatement(t *testing.T) {
	st, err := attest.New(attest.GateReportType, map[string]bool{"passed": true}, digest, "ghcr.io/acme/api", "registry.example/acme/api")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(st)
	back, err := attest.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Type != "https://in-toto.io/Statement/v1" || len(back.Subject) != 2 || !back.About(digest) {
		t.Errorf("statement = %s", b)
	}
	if back.About(v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}) {
		t.Error("About another digest: true")
	}
	if _, err := attest.New(attest.GateReportType, nil, digest); err == nil {
		t.Error("no subject: want an error")
	}
	for _, bad := range []string{`[]`, `{"predicateType":"x"}`, `{"subject":[{"name":"a"}]}`} {
		if _, err := attest.Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%s): no error", bad)
		}
	}
}

func TestGateReport(t *testing.T) {
	db := time.Date(2026, 4, 30, 6, 0, 0, 0, time.UTC)
	rep := &report.Report{}
	rep.Add(
		report.Result{Gate: "size", ID: "size/compressed", Status: report.Pass, Message: "3.1 MB", Metrics: map[string]float64{"bytes": 3100000}},
		report.Result{Gate: "scan", ID: "scan/vulnerabilities", Status: report.Pass, Message: "0 blocking",
			Tool: &report.Tool{Name: "trivy", Version: "0.67.2", DataUpdated: &db}},
		report.Result{Gate: "smoke", ID: "smoke/off", Status: report.Skipped, Message: "switched off: no runc"},
	)
	b := attest.Build{BuilderID: attest.BuilderCLI, GoImageVersion: "v0.9.0",
		Dependencies: []attest.ResourceDescriptor{attest.GoToolchain("go1.26.8")}}
	g := attest.NewGateReport(rep, "r.example/acme/api@sha256:"+digest.Hex, b)
	if !g.Passed || len(g.Failed()) != 0 || g.Summary != "PASS: 2 passed, 0 warned, 0 failed, 1 skipped" {
		t.Errorf("passing report: passed %v failed %v summary %q", g.Passed, g.Failed(), g.Summary)
	}
	var tools []string
	for _, tl := range g.Tools {
		tools = append(tools, tl.String())
	}
	if want := "go-image v0.9.0|go go1.26.8|trivy 0.67.2, data of 2026-04-30T06:00:00Z"; strings.Join(tools, "|") != want {
		t.Errorf("tools = %q, want %q", strings.Join(tools, "|"), want)
	}
	js, _ := json.Marshal(g)
	for _, want := range []string{`"passed":true`, `"id":"scan/vulnerabilities"`, `"dataUpdated":"2026-04-30T06:00:00Z"`, `"metrics":{"bytes":3100000}`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("predicate lacks %s: %s", want, js)
		}
	}

	rep.Add(report.Result{Gate: "harden", ID: "harden/user-nonroot", Status: report.Fail, Message: "runs as root"})
	g = attest.NewGateReport(rep, "", b)
	if g.Passed || len(g.Failed()) != 1 || g.Failed()[0].ID != "harden/user-nonroot" {
		t.Errorf("failing report: passed %v failed %v", g.Passed, g.Failed())
	}
	// A report that says it failed without a failed result is not a pass.
	g = attest.GateReport{Passed: false}
	if len(g.Failed()) != 1 {
		t.Errorf("passed:false with no results: failed = %v", g.Failed())
	}
}
