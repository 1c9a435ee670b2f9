package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/local"
	"dagger/go-image/internal/manifest"
	"dagger/go-image/internal/recipe"
)

// cliImage builds source with the daemonless executor, in process, with
// this machine's Go: the stand-in builder holds the same Go, so the two
// executors compile the same binary.
func cliImage(t *testing.T, source string, o recipe.Options, baseRef string) v1.Image {
	t.Helper()
	img, err := local.Build(context.Background(), local.Request{Source: source, Options: o, BaseRef: baseRef})
	if err != nil {
		t.Fatalf("go-image build %s: %v", source, err)
	}
	return img
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readImage(t *testing.T, path string) v1.Image {
	t.Helper()
	img, err := imagefile.Read(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return img
}

// TestEngineReadmeFirstCommand runs README's first command as written, from
// the repository root, and checks the image against the one the CLI builds:
// the same manifest digest.
func TestEngineReadmeFirstCommand(t *testing.T) {
	t.Parallel()
	out := tmpPath(t, "service.tar")
	r := dagger(t, "", "call", "--source=./testdata/service", "tarball", "export", "--path="+out)
	if r.err != nil {
		t.Fatalf("README's first command: %s", r.failed())
	}
	got, want := digest(t, readImage(t, out)), digest(t, cliImage(t, testdata("service"), recipe.Options{}, ""))
	if got != want {
		t.Errorf("dagger call tarball: %s; go-image build: %s; want the same digest", got, want)
	}
}

// TestEngineCallAgain calls each function that returns the image twice,
// in two sessions, as a user does on a long-lived engine. The image is a
// file the function wrote in its own container; a result the engine kept
// from the first session would point at that container, gone by the second
// ("lstat /scratch: no such file or directory"), so these functions are
// cached per session only.
func TestEngineCallAgain(t *testing.T) {
	t.Parallel()
	for _, fn := range []string{"tarball", "build"} {
		t.Run(fn, func(t *testing.T) {
			t.Parallel()
			// Arguments no other test uses, so the first call is this test's.
			args := []string{"--source=./testdata/service", "--version=0.0.0-again-" + fn, fn, "export"}
			var digests []v1.Hash
			for i := range 2 {
				out := tmpPath(t, fmt.Sprintf("again%d.tar", i))
				mustCall(t, append(args, "--path="+out)...)
				if fn == "tarball" {
					digests = append(digests, digest(t, readImage(t, out)))
				}
			}
			if len(digests) == 2 && digests[0] != digests[1] {
				t.Errorf("the second call gave %s, the first %s", digests[1], digests[0])
			}
		})
	}
}

// TestEngineDigestParity: the same options give the same digest from both
// executors, on scratch and on alpine (the base pinned by digest and
// recorded as annotations).
func TestEngineDigestParity(t *testing.T) {
	t.Parallel()
	alpine := os.Getenv("GOIMAGE_E2E_MIRROR")
	if alpine == "" {
		alpine = "127.0.0.1:5000"
	}
	alpine += "/library/alpine:3.22"
	for _, tc := range []struct {
		name string
		args []string
		o    recipe.Options
		base string
	}{
		{"scratch", []string{"--version=1.2.3", "--source-date-epoch=1700000000", "--labels=team=platform"},
			recipe.Options{Version: "1.2.3", SourceDateEpoch: 1700000000, Labels: map[string]string{"team": "platform"}}, ""},
		{"alpine", []string{"--base=alpine", "--base-image=" + alpine},
			recipe.Options{Base: recipe.Alpine}, alpine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := tmpPath(t, "image.tar")
			args := append([]string{"--source=./testdata/service"}, tc.args...)
			mustCall(t, append(args, "tarball", "export", "--path="+out)...)
			dg, cli := readImage(t, out), cliImage(t, testdata("service"), tc.o, tc.base)
			if got, want := digest(t, dg), digest(t, cli); got != want {
				t.Errorf("dagger: %s, CLI: %s", got, want)
				diffImages(t, dg, cli)
			}
			if tc.base == "" {
				return
			}
			m, err := dg.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.Annotations[recipe.AnnotationBaseName] != tc.base || !strings.HasPrefix(m.Annotations[recipe.AnnotationBaseDigest], "sha256:") {
				t.Errorf("base annotations = %v", m.Annotations)
			}
		})
	}
}

// diffImages reports how two images differ, config field by field and
// file by file, to explain a digest mismatch.
func diffImages(t *testing.T, a, b v1.Image) {
	t.Helper()
	ca, _ := a.RawConfigFile()
	cb, _ := b.RawConfigFile()
	if string(ca) != string(cb) {
		t.Errorf("configs differ:\n%s\n%s", ca, cb)
	}
	fa, fb := files(t, a), files(t, b)
	for p, h := range fa {
		if fb[p] != h {
			t.Errorf("%s: %s vs %s", p, h, fb[p])
		}
	}
	for p := range fb {
		if _, ok := fa[p]; !ok {
			t.Errorf("%s only in the second image", p)
		}
	}
}

// files maps each path of img's flattened filesystem to its mode, owner
// and content.
func files(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	fsys, err := imagefs.Read(context.Background(), img, func(imagefs.Entry) bool { return true }, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range fsys.Entries() {
		data, _ := fsys.ReadFile(context.Background(), e.Path)
		out[e.Path] = fmt.Sprintf("type %c mode %v owner %d:%d link %q content %s", e.Type, e.Mode, e.UID, e.GID, e.Linkname, hashOf(data))
	}
	return out
}

// TestEngineBuildContainer: build returns a container with the image's
// files and config; Dagger's exporter writes its own creation time and
// history, which is the one documented difference from tarball.
func TestEngineBuildContainer(t *testing.T) {
	t.Parallel()
	out := tmpPath(t, "build.tar")
	mustCall(t, "--source=./testdata/service", "build", "export", "--path="+out)
	dg := readImage(t, out)
	cli := cliImage(t, testdata("service"), recipe.Options{}, "")
	fa, fb := files(t, dg), files(t, cli)
	if len(fa) != len(fb) {
		t.Errorf("build export has %d files, the CLI image %d", len(fa), len(fb))
	}
	for p, h := range fb {
		if fa[p] != h {
			t.Errorf("%s: build export %q, CLI %q", p, fa[p], h)
		}
	}
	ca, err := dg.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := cli.ConfigFile()
	if ca.Config.User != cb.Config.User || strings.Join(ca.Config.Entrypoint, " ") != strings.Join(cb.Config.Entrypoint, " ") ||
		ca.Config.WorkingDir != cb.Config.WorkingDir || len(ca.Config.Labels) != len(cb.Config.Labels) {
		t.Errorf("build config %+v, CLI config %+v", ca.Config, cb.Config)
	}
	for k, v := range cb.Config.Labels {
		if ca.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, ca.Config.Labels[k], v)
		}
	}
}

// TestEngineBinary: the binary Dagger compiles is the CLI's, byte for byte.
func TestEngineBinary(t *testing.T) {
	t.Parallel()
	out := tmpPath(t, "service")
	mustCall(t, "--source=./testdata/service", "binary", "export", "--path="+out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := imagefs.Read(context.Background(), cliImage(t, testdata("service"), recipe.Options{}, ""), func(e imagefs.Entry) bool { return e.Path == "/usr/local/bin/service" }, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fsys.ReadFile(context.Background(), "/usr/local/bin/service")
	if err != nil {
		t.Fatal(err)
	}
	if hashOf(got) != hashOf(want) {
		t.Errorf("dagger binary %s (%d bytes), CLI binary %s (%d bytes)", hashOf(got), len(got), hashOf(want), len(want))
	}
}

// TestEngineManifest: the same YAML as `go-image manifest`.
func TestEngineManifest(t *testing.T) {
	t.Parallel()
	img := "registry.example/acme/service@sha256:" + strings.Repeat("ab", 32)
	out := tmpPath(t, "k8s.yaml")
	mustCall(t, "--source=./testdata/service", "manifest", "--image="+img, "--replicas=3", "export", "--path="+out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := manifest.Render(manifest.Options{Image: img, Replicas: 3, BusinessPort: 8080, ProbePort: 8081, ServicePort: 80,
		HealthPath: "/healthz", ReadyPath: "/readyz", InitialDelaySeconds: 10, FailureThreshold: 3, GraceSeconds: 30,
		CPURequest: "100m", MemoryRequest: "64Mi"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("dagger manifest differs from the CLI's:\n%s\n---\n%s", got, want)
	}
}

// TestEngineSbom: a CycloneDX document naming the service's dependencies.
func TestEngineSbom(t *testing.T) {
	t.Parallel()
	out := tmpPath(t, "sbom.json")
	mustCall(t, "--source=./testdata/vuln/xtext-0.3.7", "sbom", "--format=cyclonedx", "export", "--path="+out)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		BOMFormat  string `json:"bomFormat"`
		Components []struct{ Name, Version string }
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range doc.Components {
		found = found || (c.Name == "golang.org/x/text" && c.Version == "v0.3.7")
	}
	if doc.BOMFormat != "CycloneDX" || !found {
		t.Errorf("SBOM: format %q, golang.org/x/text v0.3.7 listed: %v\n%s", doc.BOMFormat, found, data)
	}
}

// hashOf is a short content hash for comparisons in messages.
func hashOf(b []byte) string {
	h, _, _ := v1.SHA256(strings.NewReader(string(b)))
	return h.Hex[:12]
}
