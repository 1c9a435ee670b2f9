package trivy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/local"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/scan"
	"dagger/go-image/internal/trivy"
	"dagger/go-image/internal/trivy/trivytest"
)

// tarDir holds the variants' image tarballs, shared by the tests.
var tarDir string

func TestMain(m *testing.M) {
	var err error
	if tarDir, err = os.MkdirTemp("", "go-image-scan-test-"); err != nil {
		panic(err)
	}
	code := trivytest.Main(m)
	os.RemoveAll(tarDir)
	os.Exit(code)
}

func TestPinnedVersionMatchesInstallScript(t *testing.T) {
	b, err := os.ReadFile("../../ci/install-tools.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TRIVY_VERSION=(\S+)$`).FindSubmatch(b)
	if m == nil || string(m[1]) != trivy.PinnedVersion {
		t.Errorf("ci/install-tools.sh pins %q, internal/trivy.PinnedVersion is %q", m, trivy.PinnedVersion)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "trivy")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	install := "go install github.com/aquasecurity/trivy/cmd/trivy@" + trivy.PinnedVersion
	for _, tc := range []struct {
		name, explicit, env, path, tools string
		want                             string // path, or "" for an error
	}{
		{name: "explicit wins", explicit: exe, env: "/nope", want: exe},
		{name: "explicit missing", explicit: filepath.Join(dir, "missing"), env: exe},
		{name: "explicit not executable", explicit: plain},
		{name: "GOIMAGE_TRIVY", env: exe, path: dir, want: exe},
		{name: "PATH", path: dir, want: exe},
		{name: "nowhere", path: t.TempDir(), tools: t.TempDir()},
		{name: "relative explicit path made absolute", explicit: "rel/trivy", want: exe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOIMAGE_TRIVY", tc.env)
			t.Setenv("PATH", tc.path)
			tools := tc.tools
			if tools == "" {
				tools = t.TempDir()
			}
			t.Setenv("GOIMAGE_TOOLS", tools)
			if strings.HasPrefix(tc.explicit, "rel/") {
				// Trivy runs in a temporary directory: a relative --trivy
				// must reach it as the file it named here.
				t.Chdir(t.TempDir())
				if err := os.MkdirAll("rel", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(exe, "rel/trivy"); err != nil {
					t.Fatal(err)
				}
				wd, _ := os.Getwd()
				tc.want = filepath.Join(wd, "rel", "trivy")
			}
			got, err := trivy.Find(tc.explicit)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Errorf("trivy.Find(%q) = %q, %v; want %q", tc.explicit, got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("trivy.Find(%q) = %q, want an error", tc.explicit, got)
			}
			if !strings.Contains(err.Error(), install) || !strings.Contains(err.Error(), "ci/install-tools.sh") {
				t.Errorf("error %q does not say how to build trivy", err)
			}
		})
	}
	// ci/install-tools.sh's layout: $GOIMAGE_TOOLS/bin/trivy.
	tools := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tools, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(tools, "bin", "trivy")
	if err := os.WriteFile(want, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOIMAGE_TRIVY", "")
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOIMAGE_TOOLS", tools)
	if got, err := trivy.Find(""); err != nil || got != want {
		t.Errorf("Find with GOIMAGE_TOOLS = %q, %v; want %q", got, err, want)
	}
}

func TestCheckDB(t *testing.T) {
	write := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "db"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, "db", name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	good := `{"Version":2,"NextUpdate":"2099-01-01T00:00:00Z"}`
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // substring of the error, "" for none
	}{
		{name: "complete", files: map[string]string{"trivy.db": "bolt", "metadata.json": good}},
		{name: "empty cache", files: nil, want: "no Trivy vulnerability DB"},
		{name: "no metadata", files: map[string]string{"trivy.db": "bolt"}, want: "missing metadata.json"},
		{name: "empty db", files: map[string]string{"trivy.db": "", "metadata.json": good}, want: "corrupt (trivy.db is empty)"},
		{name: "metadata not JSON", files: map[string]string{"trivy.db": "bolt", "metadata.json": "{"}, want: "corrupt (metadata.json"},
		{name: "old schema", files: map[string]string{"trivy.db": "bolt", "metadata.json": `{"Version":1}`}, want: "has schema 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta, err := trivy.CheckDB(write(t, tc.files))
			if tc.want == "" {
				if err != nil || meta.Version != 2 || meta.NextUpdate.Year() != 2099 {
					t.Errorf("CheckDB = %+v, %v", meta, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--download-db-only") {
				t.Errorf("CheckDB error = %v, want %q and how to provide a DB", err, tc.want)
			}
		})
	}
}

// The variants' images are built once: compiling is the slow part.
var images sync.Map // source dir -> func() (string, error)

func imageTar(t *testing.T, src string) string {
	t.Helper()
	f, _ := images.LoadOrStore(src, sync.OnceValues(func() (string, error) {
		img, err := local.Build(context.Background(), local.Request{Source: src, Options: recipe.Options{SourceDateEpoch: 1700000000}})
		if err != nil {
			return "", err
		}
		p := filepath.Join(tarDir, filepath.Base(src)+".tar")
		return p, imagefile.Write(p, "xtext:test", img)
	}))
	p, err := f.(func() (string, error))()
	if err != nil {
		t.Fatalf("build %s: %v", src, err)
	}
	return p
}

const (
	xtext037 = "../../testdata/vuln/xtext-0.3.7"
	xtext038 = "../../testdata/vuln/xtext-0.3.8"
)

// memo runs trivy once per image and replays its output, so each policy
// below is decided on a real report without re-running the scanner.
type memo struct {
	r    *trivy.Runner
	mu   sync.Mutex
	outs map[string]scan.Output
	runs int
}

func (m *memo) Scan(ctx context.Context, imageTar string) (scan.Output, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// The gate writes each image to a new temporary file: the digest
	// names the image.
	img, err := imagefile.Read(imageTar)
	if err != nil {
		return scan.Output{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return scan.Output{}, err
	}
	if o, ok := m.outs[d.String()]; ok {
		return o, nil
	}
	o, err := m.r.Scan(ctx, imageTar)
	if err == nil {
		m.outs[d.String()] = o
		m.runs++
	}
	return o, err
}

func TestGateOnVariants(t *testing.T) {
	bin := trivytest.Binary(t)
	t.Logf("trivy: %s (%s)", bin, trivytest.Version(bin))
	cache := trivytest.CacheDir(t)
	ignoreDir := t.TempDir()
	ignore := func(t *testing.T, text string) *scan.IgnoreList {
		p := filepath.Join(ignoreDir, ".trivyignore")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := scan.ReadIgnoreFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	sev := func(s string) []string {
		v, err := scan.ParseSeverity(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	m := &memo{r: &trivy.Runner{Binary: bin, CacheDir: cache}, outs: map[string]scan.Output{}}

	for _, tc := range []struct {
		name    string
		src     string
		policy  scan.Policy
		status  report.Status
		message []string // substrings of the message
		details []string // regexps, each must match some detail line
	}{
		{
			name: "0.3.7 fails on CVE-2022-32149", src: xtext037, status: report.Fail,
			message: []string{"CVE-2022-32149 (golang.org/x/text v0.3.7)"},
			details: []string{
				`^BLOCKING CVE-2022-32149 HIGH +golang.org/x/text v0.3.7 -> 0.3.8 in usr/local/bin/xtext: golang: golang.org/x/text/language: ParseAcceptLanguage`,
				`^below +GOIMAGE-TEST-NOFIX MEDIUM +golang.org/x/text v0.3.7 -> no fix`,
				`^below +GOIMAGE-TEST-STDLIB LOW +stdlib v1\.\d+\.\d+ -> 99.0.0`,
			},
		},
		{
			name: "0.3.8 passes", src: xtext038, status: report.Pass,
			message: []string{"no vulnerabilities at HIGH,CRITICAL (1 below threshold, 0 ignored)"},
			details: []string{`^below +GOIMAGE-TEST-STDLIB LOW +stdlib`},
		},
		{
			name: "0.3.7 passes with the CVE in the ignore file", src: xtext037, status: report.Pass,
			policy:  scan.Policy{Ignore: ignore(t, "# only parses tags we generate\nCVE-2022-32149 exp:2099-12-31\n")},
			message: []string{"1 ignored"},
			details: []string{`^ignored +CVE-2022-32149 HIGH .*\[\.trivyignore:2 exp:2099-12-31: only parses tags we generate\]$`},
		},
		{
			name: "an expired ignore entry fails again", src: xtext037, status: report.Fail,
			policy:  scan.Policy{Ignore: ignore(t, "CVE-2022-32149 exp:2020-01-01\n")},
			message: []string{"CVE-2022-32149"},
			details: []string{`^BLOCKING CVE-2022-32149 .*\[ignore entry expired: \.trivyignore:1 exp:2020-01-01\]$`},
		},
		{
			name: "MEDIUM threshold blocks the advisory without a fix", src: xtext037, status: report.Fail,
			policy:  scan.Policy{Severities: sev("MEDIUM"), Ignore: ignore(t, "CVE-2022-32149\n")},
			message: []string{"GOIMAGE-TEST-NOFIX", "at MEDIUM,HIGH,CRITICAL"},
		},
		{
			name: "ignore-unfixed drops the advisory without a fix", src: xtext037, status: report.Pass,
			policy:  scan.Policy{Severities: sev("MEDIUM"), IgnoreUnfixed: true, Ignore: ignore(t, "CVE-2022-32149\n")},
			details: []string{`^ignored +GOIMAGE-TEST-NOFIX MEDIUM .*\[no fixed version \(ignore-unfixed\)\]$`},
		},
		{
			name: "LOW threshold catches the stdlib advisory on 0.3.8", src: xtext038, status: report.Fail,
			policy:  scan.Policy{Severities: sev("LOW,CRITICAL")},
			message: []string{"GOIMAGE-TEST-STDLIB (stdlib v1."},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &scan.Gate{Runner: m, Policy: tc.policy}
			img, err := imagefile.Read(imageTar(t, tc.src))
			if err != nil {
				t.Fatal(err)
			}
			res, err := g.Check(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 || res[0].ID != scan.CheckID {
				t.Fatalf("results = %+v, want one %s", res, scan.CheckID)
			}
			r := res[0]
			if r.Status != tc.status {
				t.Errorf("status = %s (%s), want %s\n%s", r.Status, r.Message, tc.status, strings.Join(r.Details, "\n"))
			}
			for _, s := range tc.message {
				if !strings.Contains(r.Message, s) {
					t.Errorf("message %q does not contain %q", r.Message, s)
				}
			}
			for _, re := range tc.details {
				rx := regexp.MustCompile(re)
				if !slices.ContainsFunc(r.Details, rx.MatchString) {
					t.Errorf("no detail matches %s in:\n%s", re, strings.Join(r.Details, "\n"))
				}
			}
		})
	}
	if m.runs != 2 {
		t.Errorf("trivy ran %d times, want once per image (2)", m.runs)
	}
}

// Trivy's report itself: the fields the policy relies on are filled as the
// policy expects (Class, Type, Status, FixedVersion).
func TestTrivyReportFields(t *testing.T) {
	bin := trivytest.Binary(t)
	r := &trivy.Runner{Binary: bin, CacheDir: trivytest.CacheDir(t)}
	out, err := r.Scan(context.Background(), imageTar(t, xtext037))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := scan.ParseReport(out.JSON)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]scan.Vulnerability{}
	for _, res := range rep.Results {
		if res.Class != "lang-pkgs" || res.Type != "gobinary" || res.Target != "usr/local/bin/xtext" {
			t.Errorf("result %q class %q type %q, want usr/local/bin/xtext lang-pkgs gobinary", res.Target, res.Class, res.Type)
		}
		for _, v := range res.Vulnerabilities {
			got[v.VulnerabilityID] = v
		}
	}
	for id, want := range map[string]scan.Vulnerability{
		"CVE-2022-32149":      {PkgName: "golang.org/x/text", InstalledVersion: "v0.3.7", FixedVersion: "0.3.8", Status: "fixed", Severity: "HIGH"},
		"GOIMAGE-TEST-NOFIX":  {PkgName: "golang.org/x/text", InstalledVersion: "v0.3.7", FixedVersion: "", Status: "affected", Severity: "MEDIUM"},
		"GOIMAGE-TEST-STDLIB": {PkgName: "stdlib", FixedVersion: "99.0.0", Status: "fixed", Severity: "LOW"},
	} {
		g, ok := got[id]
		if !ok {
			t.Errorf("Trivy did not report %s; got %v", id, got)
			continue
		}
		g.VulnerabilityID, g.Title = "", ""
		if want.InstalledVersion == "" {
			g.InstalledVersion = ""
		}
		if g != want {
			t.Errorf("%s = %+v, want %+v", id, g, want)
		}
	}
	if len(got) != 3 {
		t.Errorf("Trivy reported %d vulnerabilities, want 3: %v", len(got), got)
	}
	if out.SARIF != nil {
		t.Error("SARIF rendered though the runner was not asked for it")
	}
}

func TestSARIF(t *testing.T) {
	bin := trivytest.Binary(t)
	ignore := filepath.Join(t.TempDir(), "accepted")
	if err := os.WriteFile(ignore, []byte("GOIMAGE-TEST-STDLIB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &trivy.Runner{Binary: bin, CacheDir: trivytest.CacheDir(t), SARIF: true, IgnoreFile: ignore}
	out, err := r.Scan(context.Background(), imageTar(t, xtext037))
	if err != nil {
		t.Fatal(err)
	}
	var sarif struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name    string `json:"name"`
					Version string `json:"version"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID string `json:"ruleId"`
				Level  string `json:"level"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out.SARIF, &sarif); err != nil {
		t.Fatalf("SARIF is not JSON: %v\n%.500s", err, out.SARIF)
	}
	if sarif.Version != "2.1.0" || !strings.Contains(sarif.Schema, "sarif") || !strings.Contains(sarif.Schema, "2.1.0") {
		t.Errorf("SARIF version %q $schema %q, want 2.1.0", sarif.Version, sarif.Schema)
	}
	if len(sarif.Runs) != 1 || sarif.Runs[0].Tool.Driver.Name != "Trivy" {
		t.Fatalf("SARIF runs = %+v, want one run by Trivy", sarif.Runs)
	}
	var rules []string
	for _, res := range sarif.Runs[0].Results {
		rules = append(rules, res.RuleID)
	}
	slices.Sort(rules)
	// The ignore file applies to SARIF too, so code scanning does not
	// re-raise what the team accepted.
	if want := []string{"CVE-2022-32149", "GOIMAGE-TEST-NOFIX"}; !slices.Equal(rules, want) {
		t.Errorf("SARIF ruleIds = %v, want %v", rules, want)
	}
}

func TestScanErrors(t *testing.T) {
	bin := trivytest.Binary(t)
	tar := imageTar(t, xtext038)

	t.Run("missing DB", func(t *testing.T) {
		r := &trivy.Runner{Binary: bin, CacheDir: t.TempDir()}
		_, err := r.Scan(context.Background(), tar)
		if err == nil || !strings.Contains(err.Error(), "no Trivy vulnerability DB") || !strings.Contains(err.Error(), "--download-db-only") {
			t.Errorf("error = %v, want a missing-DB error with the fix", err)
		}
	})
	t.Run("corrupt DB", func(t *testing.T) {
		cache := trivytest.CacheDir(t)
		// Not BoltDB: what a truncated copy or a wrong file looks like.
		if err := os.WriteFile(filepath.Join(cache, "db", "trivy.db"), []byte(strings.Repeat("not a bolt db\n", 512)), 0o644); err != nil {
			t.Fatal(err)
		}
		r := &trivy.Runner{Binary: bin, CacheDir: cache}
		out, err := r.Scan(context.Background(), tar)
		if err == nil {
			t.Fatalf("corrupt DB scanned without error; report:\n%.500s", out.JSON)
		}
		if !strings.Contains(err.Error(), "trivy image failed") || !strings.Contains(err.Error(), "--download-db-only") {
			t.Errorf("error = %v, want Trivy's failure and how to provide a DB", err)
		}
	})
	t.Run("missing image", func(t *testing.T) {
		r := &trivy.Runner{Binary: bin, CacheDir: trivytest.CacheDir(t)}
		if _, err := r.Scan(context.Background(), filepath.Join(t.TempDir(), "none.tar")); err == nil {
			t.Error("scanned a tarball that does not exist")
		}
	})
	t.Run("not an image", func(t *testing.T) {
		junk := filepath.Join(t.TempDir(), "junk.tar")
		if err := os.WriteFile(junk, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := &trivy.Runner{Binary: bin, CacheDir: trivytest.CacheDir(t)}
		if _, err := r.Scan(context.Background(), junk); err == nil || !strings.Contains(err.Error(), "trivy image failed") {
			t.Errorf("error = %v, want trivy's failure", err)
		}
	})
}

// An image without a package DB or a Go binary with build info gives Trivy
// nothing to match: the gate warns instead of passing.
func TestNothingToScanWarns(t *testing.T) {
	bin := trivytest.Binary(t)
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	g := &scan.Gate{Runner: &trivy.Runner{Binary: bin, CacheDir: trivytest.CacheDir(t)}}
	res, err := g.Check(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Status != report.Warn || !strings.Contains(res[0].Message, "nothing to scan") {
		t.Errorf("results = %+v, want one warning that Trivy found nothing to scan", res)
	}
}

func TestDefaultImageIsPinned(t *testing.T) {
	if want := "aquasec/trivy:" + strings.TrimPrefix(trivy.PinnedVersion, "v"); trivy.DefaultImage != want {
		t.Errorf("DefaultImage = %q, want %q (PinnedVersion %s)", trivy.DefaultImage, want, trivy.PinnedVersion)
	}
}
