package verify_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
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
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/sign"
	"dagger/go-image/internal/sign/signtest"
	"dagger/go-image/internal/verify"
)

const revision = "0123456789abcdef0123456789abcdef01234567"

var ctx = context.Background()

func serve(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func pushRandom(t *testing.T, repo string) name.Digest {
	t.Helper()
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	d, _ := name.NewDigest(repo + "@" + h.String())
	if err := remote.Write(d, img); err != nil {
		t.Fatal(err)
	}
	return d
}

func passing() *report.Report {
	r := &report.Report{}
	r.Add(report.Result{Gate: "size", ID: "size/compressed", Status: report.Pass, Message: "small"},
		report.Result{Gate: "upx", ID: "upx/packed", Status: report.Warn, Message: "packed, allowed with a warning"})
	return r
}

func failing() *report.Report {
	r := passing()
	r.Add(report.Result{Gate: "harden", ID: "harden/user-nonroot", Status: report.Fail, Message: "runs as root"})
	return r
}

// released stands in for a signed release of an image: provenance and gate
// report attested, then the signature, as release.Run does.
func released(t *testing.T, key *sign.Key, d name.Digest, rep *report.Report) {
	t.Helper()
	h, _ := v1.NewHash(d.DigestStr())
	b := attest.Build{Recipe: recipe.Options{Name: "api", Revision: revision}, BuilderID: attest.BuilderCLI}
	prov, err := b.Provenance()
	if err != nil {
		t.Fatal(err)
	}
	var sts []attest.Statement
	for typ, pred := range map[string]any{attest.SLSAProvenanceType: prov, attest.GateReportType: attest.NewGateReport(rep, d.String(), b)} {
		st, err := attest.New(typ, pred, h, d.Context().String())
		if err != nil {
			t.Fatal(err)
		}
		sts = append(sts, st)
	}
	if _, err := key.Attest(ctx, d, sts, push.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := key.Image(ctx, d, push.Options{}); err != nil {
		t.Fatal(err)
	}
}

// rewrite replaces the image at tag with one holding layers, as someone
// with push access to the repository could.
func rewrite(t *testing.T, tag name.Tag, layers []sign.Layer) {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, l := range layers {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(l.Payload, l.MediaType), Annotations: l.Annotations})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, tag name.Tag) []sign.Layer {
	t.Helper()
	ls, err := sign.ReadLayers(ctx, tag, push.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func TestImage(t *testing.T) {
	host := serve(t)
	key, pub := signtest.Key(t)
	v, err := sign.LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := signtest.Key(t)

	good := pushRandom(t, host+"/acme/good")
	released(t, key, good, passing())
	// A tag resolves to the digest it names.
	if err := remote.Write(mustTag(t, host+"/acme/good:1.0"), mustImage(t, good)); err != nil {
		t.Fatal(err)
	}

	unsigned := pushRandom(t, host+"/acme/unsigned")

	wrongKey := pushRandom(t, host+"/acme/wrongkey")
	released(t, other, wrongKey, passing())

	failed := pushRandom(t, host+"/acme/failed")
	released(t, key, failed, failing())

	// Tampered: the gate report's envelope is rewritten to say a failed
	// image passed, without the key to sign it.
	tampered := pushRandom(t, host+"/acme/tampered")
	released(t, key, tampered, failing())
	atag, _ := sign.AttestationTag(tampered)
	layers := read(t, atag)
	for i, l := range layers {
		if sign.PredicateType(l) != attest.GateReportType {
			continue
		}
		var env dsse.Envelope
		if err := json.Unmarshal(l.Payload, &env); err != nil {
			t.Fatal(err)
		}
		body, _ := base64.StdEncoding.DecodeString(env.Payload)
		forged := strings.Replace(string(body), `"status":"fail"`, `"status":"pass"`, 1)
		forged = strings.Replace(forged, `"passed":false`, `"passed":true`, 1)
		if forged == string(body) {
			t.Fatal("nothing to tamper with")
		}
		env.Payload = base64.StdEncoding.EncodeToString([]byte(forged))
		layers[i].Payload, _ = json.Marshal(env)
	}
	rewrite(t, atag, layers)

	// Copied: another image's (valid, signed) attestations put under this
	// digest, and its signature likewise.
	copiedAtt := pushRandom(t, host+"/acme/copied")
	released(t, key, copiedAtt, failing())
	gtag, _ := sign.AttestationTag(good)
	ctag, _ := sign.AttestationTag(copiedAtt)
	rewrite(t, ctag, read(t, gtag))

	copiedSig := pushRandom(t, host+"/acme/copiedsig")
	gsig, _ := sign.SignatureTag(good)
	csig, _ := sign.SignatureTag(copiedSig)
	rewrite(t, csig, read(t, gsig))

	noReport := pushRandom(t, host+"/acme/noreport")
	if _, err := key.Image(ctx, noReport, push.Options{}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		ref      string
		revision string
		want     error
		msg      string
	}{
		{"signed, attested, passed", good.String(), revision, nil, ""},
		{"by tag", host + "/acme/good:1.0", "", nil, ""},
		{"unsigned image", unsigned.String(), "", verify.ErrUnsigned, "has no signature"},
		{"wrong key", wrongKey.String(), "", verify.ErrWrongKey, "none verifies with this key"},
		{"tampered attestation", tampered.String(), "", verify.ErrTampered, "altered after signing"},
		{"failed gate", failed.String(), "", verify.ErrGateFailed, "harden/user-nonroot: runs as root"},
		{"attestation of another digest", copiedAtt.String(), "", verify.ErrOtherImage, "copied from another image"},
		{"signature of another digest", copiedSig.String(), "", verify.ErrOtherImage, "signs " + good.DigestStr()},
		{"another revision", good.String(), "fedcba9876543210fedcba9876543210fedcba98", verify.ErrRevision, "built from " + revision},
		{"no attestations", noReport.String(), "", verify.ErrMissing, "no attestations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := verify.Image(ctx, tt.ref, v, verify.Options{Revision: tt.revision})
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if res.Digest.DigestStr() != good.DigestStr() || res.Signatures != 1 || !res.Report.Passed ||
					res.Provenance.BuildDefinition.ExternalParameters.Source.Revision != revision {
					t.Errorf("result %+v", res)
				}
				if s := res.Summary(); !strings.Contains(s, "verified "+good.String()) || !strings.Contains(s, "PASS") {
					t.Errorf("summary:\n%s", s)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v\nwant %v with %q", err, tt.want, tt.msg)
			}
			t.Log(err)
		})
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func mustImage(t *testing.T, d name.Digest) v1.Image {
	t.Helper()
	img, err := remote.Image(d)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
