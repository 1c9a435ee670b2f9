package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"

	"dagger/go-image/internal/push"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/sign"
	"dagger/go-image/internal/sign/signtest"
	"dagger/go-image/internal/verify"
)

const revision = "0123456789abcdef0123456789abcdef01234567"

var ctx = context.Background()

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

func TestImage(t *testing.T) {
	host, key, v := setup(t)
	other, _ := signtest.Key(t)

	good := signtest.RandomImage(t, host+"/acme/good")
	signtest.Released(t, key, good, passing(), revision)
	// A tag resolves to the digest it names.
	if err := remote.Write(mustTag(t, host+"/acme/good:1.0"), mustImage(t, good)); err != nil {
		t.Fatal(err)
	}

	unsigned := signtest.RandomImage(t, host+"/acme/unsigned")

	wrongKey := signtest.RandomImage(t, host+"/acme/wrongkey")
	signtest.Released(t, other, wrongKey, passing(), revision)

	failed := signtest.RandomImage(t, host+"/acme/failed")
	signtest.Released(t, key, failed, failing(), revision)

	// Tampered: the gate report's statement is rewritten to say a failed
	// image passed, without the key to sign it.
	tampered := signtest.RandomImage(t, host+"/acme/tampered")
	signtest.Released(t, key, tampered, failing(), revision)
	signtest.Tamper(t, tampered, func(st string) string {
		st = strings.Replace(st, `"status":"fail"`, `"status":"pass"`, 1)
		return strings.Replace(st, `"passed":false`, `"passed":true`, 1)
	})

	// Copied: another image's (valid, signed) attestations put under this
	// digest, and its signature likewise.
	copiedAtt := signtest.RandomImage(t, host+"/acme/copied")
	signtest.Released(t, key, copiedAtt, failing(), revision)
	signtest.Copy(t, good, copiedAtt, "att")
	copiedSig := signtest.RandomImage(t, host+"/acme/copiedsig")
	signtest.Copy(t, good, copiedSig, "sig")

	noReport := signtest.RandomImage(t, host+"/acme/noreport")
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

// A policy file comes with the code: it can switch every gate off, and
// the release then signs a report with no failed check, which verify
// accepted as "verified". --require-gates names gates that must have run.
func TestRequireGates(t *testing.T) {
	host, key, v := setup(t)
	lenient := &report.Report{}
	lenient.Add(report.Result{Gate: "size", ID: "size/compressed", Status: report.Pass, Message: "small"},
		report.Result{Gate: "scan", ID: "scan/off", Status: report.Skipped, Message: "scan gate switched off: ##[add-mask]PASS"},
		report.Result{Gate: "harden", ID: "harden/no-setuid", Status: report.Skipped, Message: "skipped: the base ships ping"},
		report.Result{Gate: "harden", ID: "harden/user-nonroot", Status: report.Pass, Message: "65532"},
		report.Result{Gate: "smoke", ID: "smoke/platform", Status: report.Skipped, Message: "linux/s390x does not run here"})
	d := signtest.RandomImage(t, host+"/acme/lenient")
	signtest.Released(t, key, d, lenient, revision)

	tests := []struct {
		require string
		msg     string // "" verifies
	}{
		{"", ""},
		{"size", ""},
		{"size,harden", ""}, // one harden check skipped on its own: harden ran
		{"scan", `scan gate switched off: #\x23[add-mask]PASS`},
		{"smoke", "has no smoke check that ran"},
		{"lint", "has no lint check that ran"},
		{"all", "switched it off"},
	}
	for _, tt := range tests {
		t.Run(tt.require, func(t *testing.T) {
			gates, err := verify.ParseGates(tt.require)
			if err != nil {
				t.Fatal(err)
			}
			res, err := verify.Image(ctx, d.String(), v, verify.Options{RequireGates: gates})
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				// Verified or not, what was not checked is said.
				s := res.Summary()
				for _, want := range []string{"skipped:     scan/off: scan gate switched off", "skipped:     harden/no-setuid", "skipped:     smoke/platform"} {
					if !strings.Contains(s, want) {
						t.Errorf("summary lacks %q:\n%s", want, s)
					}
				}
				return
			}
			if !errors.Is(err, verify.ErrGateOff) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want %v with %q", err, verify.ErrGateOff, tt.msg)
			}
		})
	}
	if _, err := verify.ParseGates("scan,smokee"); err == nil || !strings.Contains(err.Error(), `gate "smokee": want a list of size, scan, upx, harden, lint, smoke, or all`) {
		t.Errorf("ParseGates(smokee) = %v", err)
	}
}

// setup serves a registry and makes a signing key and its verifier.
func setup(t *testing.T) (string, *sign.Key, signature.Verifier) {
	t.Helper()
	key, pub := signtest.Key(t)
	v, err := sign.LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return signtest.Registry(t), key, v
}
