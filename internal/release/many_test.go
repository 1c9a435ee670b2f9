package release

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
)

// TestTemplateHost: the source names the binaries, so {name} in the
// registry host lets it pick the registry, which the explicit credentials
// (used for every address) are sent to: a main package in a directory
// named evil.example pushed there with them.
func TestTemplateHost(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		wantErr bool
	}{
		{"ghcr.io/acme/{name}:1", false},
		{"ghcr.io/{name}/app:1", false},
		{"ghcr.io/acme/app:{name}", false},
		{"api=ghcr.io/acme/{name}:1", false},
		{"{name}/acme/app:1", true},
		{"{name}.example.com/acme/app:1", true},
		{"reg-{name}:5000/acme/app:1", true},
		{"api={name}.example.com/app:1", true},
	} {
		err := CheckAddresses([]string{tc.spec}, false)
		if tc.wantErr != (err != nil) || (err != nil && !strings.Contains(err.Error(), "registry host")) {
			t.Errorf("CheckAddresses(%q) = %v, want an error: %v", tc.spec, err, tc.wantErr)
		}
		if tc.wantErr {
			if _, err := Addresses([]string{tc.spec}, []string{"api"}); err == nil {
				t.Errorf("Addresses(%q) accepted it", tc.spec)
			}
		}
	}
}

func TestAddresses(t *testing.T) {
	two := []string{"api", "ctl"}
	for _, tc := range []struct {
		specs   []string
		names   []string
		want    map[string][]string
		wantErr string
	}{
		{specs: []string{"reg/acme/{name}:1.0"}, names: two, want: map[string][]string{"api": {"reg/acme/api:1.0"}, "ctl": {"reg/acme/ctl:1.0"}}},
		{specs: []string{"api=reg/x:1", "ctl=reg/y:1", "reg/all/{name}:1"}, names: two, want: map[string][]string{"api": {"reg/x:1", "reg/all/api:1"}, "ctl": {"reg/y:1", "reg/all/ctl:1"}}},
		{specs: []string{"reg/acme/api:1.0"}, names: []string{"api"}, want: map[string][]string{"api": {"reg/acme/api:1.0"}}},
		{specs: []string{"localhost:5000/a=b:1"}, names: []string{"api"}, want: map[string][]string{"api": {"localhost:5000/a=b:1"}}},
		{specs: []string{"reg/acme/api:1.0"}, names: two, wantErr: "has no {name}, but this release builds 2 binaries (api, ctl)"},
		{specs: []string{"api=reg/x:1"}, names: two, wantErr: "binary ctl has no address"},
		{specs: []string{"worker=reg/x:1", "reg/{name}:1"}, names: two, wantErr: `is for binary "worker", which this release does not build (it builds api, ctl)`},
		{specs: []string{"api="}, names: two, wantErr: "want api=REGISTRY/REPO:TAG"},
		{specs: nil, names: two, wantErr: "no address"},
		// A source that adds a main package named after another binary's
		// explicit address would push two images to one tag, the last
		// tagged winning.
		{specs: []string{"reg/acme/{name}:1", "api=reg/acme/ctl:1"}, names: two, wantErr: "reg/acme/ctl:1 is the address of both api and ctl"},
		{specs: []string{"api=docker.io/library/x:1", "ctl=x:1"}, names: two, wantErr: "is the address of both api and ctl"},
		{specs: []string{"api=reg/acme/x:1", "ctl=reg/acme/x:2"}, names: two, want: map[string][]string{"api": {"reg/acme/x:1"}, "ctl": {"reg/acme/x:2"}}},
		// A name fills {name} only as one path element: whatever made the
		// names, none leaves the repository the address meant.
		{specs: []string{"reg/acme/{name}:1"}, names: []string{"x/../../evil"}, wantErr: `binary name "x/../../evil"`},
		{specs: []string{"reg/acme/{name}:1"}, names: []string{"evil.example.com/x"}, wantErr: "binary name"},
		{specs: []string{"reg/acme/{name}:1"}, names: []string{"x:tag"}, wantErr: "binary name"},
		{specs: []string{"reg/acme/{name}:1"}, names: []string{""}, wantErr: "binary name"},
	} {
		got, err := Addresses(tc.specs, tc.names)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Addresses(%q) = %v, %v; want an error saying %q", tc.specs, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Addresses(%q) = %v, %v; want %v", tc.specs, got, err, tc.want)
		}
	}
}

// randomImage is a small OCI image of its own.
func randomImage(t *testing.T) v1.Image {
	t.Helper()
	l, err := random.Layer(512, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, "application/vnd.oci.image.manifest.v1+json"), l)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.ConfigMediaType(img, "application/vnd.oci.image.config.v1+json")
}

// verdict is a gate that passes or fails every image.
type verdict struct {
	fail map[v1.Hash]bool
	mu   sync.Mutex
	n    int
}

func (*verdict) Name() string { return "size" }
func (v *verdict) Check(_ context.Context, img v1.Image) ([]report.Result, error) {
	v.mu.Lock()
	v.n++
	v.mu.Unlock()
	d, _ := img.Digest()
	if v.fail[d] {
		return []report.Result{{Gate: "size", ID: "size/compressed", Status: report.Fail, Message: "too big"}}, nil
	}
	return []report.Result{{Gate: "size", ID: "size/compressed", Status: report.Pass}}, nil
}

func requests(t *testing.T, reg string, g gates.Gate, imgs map[string]v1.Image) []Named {
	var out []Named
	for _, name := range []string{"api", "ctl", "worker"} {
		img := imgs[name]
		out = append(out, Named{Name: name, Request: Request{
			Platforms: platforms(t, "linux/amd64"), Gates: []gates.Gate{g}, Addresses: []string{reg + "/acme/" + name + ":1.0"},
			Push:  push.Options{Insecure: true},
			Build: func(context.Context, recipe.Platform) (v1.Image, error) { return img, nil },
		}})
	}
	return out
}

func TestRunAll(t *testing.T) {
	ctx := context.Background()
	imgs := map[string]v1.Image{"api": randomImage(t), "ctl": randomImage(t), "worker": randomImage(t)}

	t.Run("every binary passes: all pushed", func(t *testing.T) {
		reg, _ := serve(t)
		g := &verdict{}
		res, err := RunAll(ctx, requests(t, reg, g, imgs), 2)
		if err != nil {
			t.Fatal(err)
		}
		for i, name := range []string{"api", "ctl", "worker"} {
			want, _ := imgs[name].Digest()
			if got, err := pulled(reg + "/acme/" + name + ":1.0"); err != nil || got != want || res[i].Digest != want {
				t.Errorf("%s: tag resolves to %s (%v), result %s, want %s", name, got, err, res[i].Digest, want)
			}
		}
		if g.n != 3 {
			t.Errorf("the gate ran %d times for 3 images", g.n)
		}
		var b bytes.Buffer
		if err := Images([]string{"api", "ctl", "worker"}, res).WriteSummary(&b, "text"); err != nil || !strings.Contains(b.String(), "PASS: 3 images, 3 passed every gate") {
			t.Errorf("summary: %v\n%s", err, b.String())
		}
	})

	t.Run("one binary fails a gate: nothing pushed", func(t *testing.T) {
		reg, w := serve(t)
		bad, _ := imgs["ctl"].Digest()
		res, err := RunAll(ctx, requests(t, reg, &verdict{fail: map[v1.Hash]bool{bad: true}}, imgs), 2)
		var se *StoppedError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "release of 3 binaries stopped, nothing pushed: 1 did not pass:\nctl: release blocked") {
			t.Fatalf("RunAll = %v", err)
		}
		if w.n != 0 {
			t.Errorf("%d writes to the registry: a blocked release of several pushes nothing", w.n)
		}
		if res[0].Report.Err() != nil || res[1].Report.Err() == nil {
			t.Errorf("each binary keeps its own report")
		}
		if got := Images([]string{"api", "ctl", "worker"}, res)[1].Digest; got != bad.String() {
			t.Errorf("the summary of a blocked release shows %q for ctl, want the digest of the image gated, %s", got, bad)
		}
		var blocked *BlockedError
		if !errors.As(err, &blocked) {
			t.Error("the blocked binary's BlockedError is inside")
		}
	})

	t.Run("an upload fails: no tag moved", func(t *testing.T) {
		reg, _ := serve(t)
		reqs := requests(t, reg, &verdict{}, imgs)
		// worker's registry refuses (nothing listens there).
		reqs[2].Request.Addresses = []string{"127.0.0.1:1/acme/worker:1.0"}
		reqs[2].Request.Push.Backoff = &remote.Backoff{Steps: 1}
		_, err := RunAll(ctx, reqs, 2)
		if err == nil || !strings.Contains(err.Error(), "worker: ") || !strings.Contains(err.Error(), "no tag of any binary was moved") {
			t.Fatalf("RunAll = %v", err)
		}
		// What is in the registry now must be said: the images uploaded
		// before worker's failed stay there, by digest.
		for _, name := range []string{"api", "ctl"} {
			d, _ := imgs[name].Digest()
			if want := name + ": " + reg + "/acme/" + name + "@" + d.String(); !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not say %q was uploaded:\n%v", want, err)
			}
		}
		for _, name := range []string{"api", "ctl"} {
			if d, err := pulled(reg + "/acme/" + name + ":1.0"); err == nil {
				t.Errorf("%s:1.0 points at %s though the release failed", name, d)
			}
		}
	})

	t.Run("a tag fails after another binary's moved: the error says which", func(t *testing.T) {
		reg, w := serve(t)
		w.refuse = "/v2/acme/ctl/manifests/1.0"
		res, err := RunAll(ctx, requests(t, reg, &verdict{}, imgs), 2)
		var pe *PartialError
		if !errors.As(err, &pe) {
			t.Fatalf("RunAll = %v, want a *PartialError", err)
		}
		api, _ := imgs["api"].Digest()
		if d, perr := pulled(reg + "/acme/api:1.0"); perr != nil || d != api {
			t.Fatalf("api:1.0 = %s, %v: the test expects api tagged before ctl failed", d, perr)
		}
		msg := err.Error()
		for _, want := range []string{
			"ctl: ",
			"tags moved: api: " + reg + "/acme/api:1.0 -> " + api.String(),
			"not tagged (uploaded by digest): ctl: " + reg + "/acme/ctl@",
			"worker: " + reg + "/acme/worker@",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("the error does not say %q:\n%s", want, msg)
			}
		}
		if !reflect.DeepEqual(pe.Tagged, []string{reg + "/acme/api:1.0"}) {
			t.Errorf("Tagged = %q", pe.Tagged)
		}
		if res[0].Pushed == nil || len(res[0].Pushed.Tags) != 1 {
			t.Errorf("api's result does not record its tag: %+v", res[0].Pushed)
		}
	})

	t.Run("a binary's second repository refuses its tag: that repository is the untagged one", func(t *testing.T) {
		reg, w := serve(t)
		w.refuse = "/v2/mirror/api/manifests/1.0"
		reqs := requests(t, reg, &verdict{}, imgs)
		reqs[0].Request.Addresses = append(reqs[0].Request.Addresses, reg+"/mirror/api:1.0")
		_, err := RunAll(ctx, reqs, 2)
		var pe *PartialError
		if !errors.As(err, &pe) {
			t.Fatalf("RunAll = %v, want a *PartialError", err)
		}
		api, _ := imgs["api"].Digest()
		if want := []string{reg + "/mirror/api@" + api.String(), reg + "/acme/ctl@", reg + "/acme/worker@"}; len(pe.Untagged) != 3 || pe.Untagged[0] != want[0] || !strings.HasPrefix(pe.Untagged[1], want[1]) || !strings.HasPrefix(pe.Untagged[2], want[2]) {
			t.Errorf("Untagged = %q, want %q…: acme/api:1.0 moved, mirror/api did not", pe.Untagged, want)
		}
	})

	t.Run("an SBOM attached before another binary's upload failed is named", func(t *testing.T) {
		reg, _ := serve(t)
		api := request(t, []string{reg + "/acme/api:1.0"}, "linux/amd64")
		api.AttachSBOM = true
		ctl := request(t, []string{"127.0.0.1:1/acme/ctl:1.0"}, "linux/amd64")
		ctl.Push.Backoff = &remote.Backoff{Steps: 1}
		res, err := RunAll(ctx, []Named{{"api", api}, {"ctl", ctl}}, 2)
		var pe *PartialError
		if !errors.As(err, &pe) {
			t.Fatalf("RunAll = %v, want a *PartialError", err)
		}
		sbom := res[0].SBOMRef
		if sbom == "" {
			t.Fatal("api's SBOM was not attached: the test expects it uploaded before ctl failed")
		}
		if !slices.Contains(pe.Untagged, sbom) || !strings.Contains(err.Error(), "api: SBOM "+sbom) {
			t.Errorf("the error does not name api's SBOM %s, left in the registry:\n%v (Untagged %q)", sbom, err, pe.Untagged)
		}
	})

	t.Run("a binary's second repository refuses its upload: the first's upload is named", func(t *testing.T) {
		reg, w := serve(t)
		api, _ := imgs["api"].Digest()
		w.refuse = "/v2/mirror/api/manifests/" + api.String()
		reqs := requests(t, reg, &verdict{}, imgs)
		reqs[0].Request.Addresses = append(reqs[0].Request.Addresses, reg+"/mirror/api:1.0")
		reqs[0].Request.Push.Backoff = &remote.Backoff{Steps: 1}
		_, err := RunAll(ctx, reqs, 2)
		var pe *PartialError
		if !errors.As(err, &pe) {
			t.Fatalf("RunAll = %v, want a *PartialError", err)
		}
		if want := reg + "/acme/api@" + api.String(); len(pe.Untagged) != 1 || pe.Untagged[0] != want {
			t.Errorf("Untagged = %q, want [%s]: it was uploaded before mirror/api refused", pe.Untagged, want)
		}
	})
}

func TestPrefixLog(t *testing.T) {
	var b bytes.Buffer
	w := PrefixLog(&b, "[api] ")
	w.Write([]byte("go-image: build "))
	w.Write([]byte("linux/amd64\ngo-image: gates\n"))
	if b.String() != "[api] go-image: build linux/amd64\n[api] go-image: gates\n" {
		t.Errorf("%q", b.String())
	}
}

// pulled is the digest ref resolves to.
func pulled(ref string) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	desc, err := remote.Head(r)
	if err != nil {
		return v1.Hash{}, err
	}
	return desc.Digest, nil
}
