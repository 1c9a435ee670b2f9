package signtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/sign"
)

// Registry serves a registry on loopback for the test and returns its host.
func Registry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// RandomImage pushes a small random image to repo and returns it by digest.
func RandomImage(t testing.TB, repo string) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	d, err := name.NewDigest(repo + "@" + h.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(d, img); err != nil {
		t.Fatal(err)
	}
	return d
}

// Released does to d what a signed release does after its gates: attest
// provenance (from revision) and the gate report rep, then sign. A report
// with a failed check stands for one signed by some other tool, since
// go-image's release never signs a failure.
func Released(t testing.TB, key *sign.Key, d name.Digest, rep *report.Report, revision string) {
	t.Helper()
	h, _ := v1.NewHash(d.DigestStr())
	b := attest.Build{BuilderID: attest.BuilderCLI}
	b.Recipe.Revision = revision
	prov, err := b.Provenance()
	if err != nil {
		t.Fatal(err)
	}
	var sts []attest.Statement
	for _, p := range []struct {
		typ  string
		pred any
	}{{attest.SLSAProvenanceType, prov}, {attest.GateReportType, attest.NewGateReport(rep, d.String(), b)}} {
		st, err := attest.New(p.typ, p.pred, h, d.Context().String())
		if err != nil {
			t.Fatal(err)
		}
		sts = append(sts, st)
	}
	if _, err := key.Attest(context.Background(), d, sts, push.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := key.Image(context.Background(), d, push.Options{}); err != nil {
		t.Fatal(err)
	}
}

// Layers reads the signature image at tag.
func Layers(t testing.TB, tag name.Tag) []sign.Layer {
	t.Helper()
	ls, err := sign.ReadLayers(context.Background(), tag, push.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// Rewrite replaces the signature image at tag with one holding layers, as
// anyone with push access to the repository could.
func Rewrite(t testing.TB, tag name.Tag, layers []sign.Layer) {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, l := range layers {
		var err error
		if img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(l.Payload, l.MediaType), Annotations: l.Annotations}); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
}

// Tamper edits the statement of d's gate-report attestation with edit and
// writes it back without signing it again.
func Tamper(t testing.TB, d name.Digest, edit func(statement string) string) {
	t.Helper()
	tag, err := sign.AttestationTag(d)
	if err != nil {
		t.Fatal(err)
	}
	layers := Layers(t, tag)
	edited := false
	for i, l := range layers {
		if sign.PredicateType(l) != attest.GateReportType {
			continue
		}
		var env dsse.Envelope
		if err := json.Unmarshal(l.Payload, &env); err != nil {
			t.Fatal(err)
		}
		body, _ := base64.StdEncoding.DecodeString(env.Payload)
		forged := edit(string(body))
		edited = edited || forged != string(body)
		env.Payload = base64.StdEncoding.EncodeToString([]byte(forged))
		layers[i].Payload, _ = json.Marshal(env)
	}
	if !edited {
		t.Fatalf("%s: no gate report statement changed", d)
	}
	Rewrite(t, tag, layers)
}

// Copy puts from's signature image at tag suffix ("sig" or "att") under
// to's digest, as someone passing one image's signatures off as another's.
func Copy(t testing.TB, from, to name.Digest, suffix string) {
	t.Helper()
	tag := sign.SignatureTag
	if suffix == "att" {
		tag = sign.AttestationTag
	}
	ft, _ := tag(from)
	tt, _ := tag(to)
	Rewrite(t, tt, Layers(t, ft))
}
