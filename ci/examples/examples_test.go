// Package examples holds copy-paste CI configurations that release a Go
// service with go-image; its tests lint them. The go-image flags they use
// are checked against the CLI in cmd/go-image's TestCIExampleFlags, and
// their dagger calls against the module's Go files in TestDaggerCalls.
package examples

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"sigs.k8s.io/yaml"
)

// TestGitHubWorkflows lints the GitHub Actions examples with actionlint,
// used as a library: workflow syntax, expressions, action inputs of the
// popular actions, and (when shellcheck is installed) the run scripts.
func TestGitHubWorkflows(t *testing.T) {
	files, err := filepath.Glob("github-actions/*.yml")
	if err != nil || len(files) < 3 {
		t.Fatalf("workflows %v (%v), want the Dagger and the CLI release, and the dagger check", files, err)
	}
	// What each workflow is for.
	wants := map[string][]string{
		"release": {"tags:", "GITHUB_STEP_SUMMARY", "github/codeql-action/upload-sarif", "category: go-image-scan", "category: go-image-lint", "COSIGN_KEY: ${{ secrets.COSIGN_KEY }}"},
		"check":   {"pull_request:", "dagger/dagger-for-github@", "check: go-image", "dagger toolchain install", "GITHUB_STEP_SUMMARY"},
	}
	opts := &actionlint.LinterOptions{}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	} else {
		t.Log("shellcheck not installed: run scripts are not shellchecked (apt-get install shellcheck)")
	}
	var out bytes.Buffer
	l, err := actionlint.NewLinter(&out, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		errs, err := l.Lint(f, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			t.Errorf("%s:%d:%d: %s [%s]", f, e.Line, e.Column, e.Message, e.Kind)
		}
		wf := string(b)
		kind, _, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".yml"), "-")
		if wants[kind] == nil {
			t.Errorf("%s: a workflow the test does not know: say what it must hold", f)
		}
		for _, want := range wants[kind] {
			if !strings.Contains(wf, want) {
				t.Errorf("%s lacks %q", f, want)
			}
		}
	}
}

// TestActionlintCatches: the linter, as configured above, does find a
// broken workflow, so a clean result means something.
func TestActionlintCatches(t *testing.T) {
	l, err := actionlint.NewLinter(&bytes.Buffer{}, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n")
	errs, err := l.Lint("bad.yml", bad, nil)
	if err != nil || len(errs) == 0 {
		t.Errorf("a workflow with an undefined property: %d errors (%v)", len(errs), err)
	}
}

// gitlabJob is the part of a GitLab CI job the test checks.
type gitlabJob struct {
	Stage        string           `json:"stage"`
	Image        string           `json:"image"`
	Rules        []map[string]any `json:"rules"`
	BeforeScript []string         `json:"before_script"`
	Script       []string         `json:"script"`
	AfterScript  []string         `json:"after_script"`
	Artifacts    struct {
		When  string   `json:"when"`
		Paths []string `json:"paths"`
	} `json:"artifacts"`
}

// TestGitLabPipelines parses the GitLab examples as YAML and checks the
// release job's shape: a tag rule, a script, the report kept as an
// artifact even when the release fails.
func TestGitLabPipelines(t *testing.T) {
	for _, f := range []string{"gitlab-ci.yml", "gitlab-ci-cli.yml"} {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := yaml.UnmarshalStrict(b, &doc); err != nil {
				t.Fatalf("not YAML: %v", err)
			}
			var top struct {
				Stages  []string  `json:"stages"`
				Release gitlabJob `json:"release"`
			}
			if err := yaml.Unmarshal(b, &top); err != nil {
				t.Fatal(err)
			}
			j := top.Release
			if len(top.Stages) == 0 || j.Stage != top.Stages[0] || j.Image == "" || len(j.Script) == 0 {
				t.Errorf("release job %+v, stages %v", j, top.Stages)
			}
			if len(j.Rules) != 1 || j.Rules[0]["if"] != "$CI_COMMIT_TAG" {
				t.Errorf("rules %v, want a tag pipeline only", j.Rules)
			}
			if j.Artifacts.When != "always" || !contains(j.Artifacts.Paths, "gate-report.md") || !contains(j.Artifacts.Paths, "sarif/") {
				t.Errorf("artifacts %+v, want the gate report and SARIF kept always", j.Artifacts)
			}
			script := strings.Join(append(append(j.BeforeScript, j.Script...), j.AfterScript...), "\n")
			for _, want := range []string{"COSIGN_PASSWORD", "release", "--format", "sarif"} {
				if !strings.Contains(script, want) {
					t.Errorf("script lacks %q", want)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
