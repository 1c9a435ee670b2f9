package sign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/sign"
	"dagger/go-image/internal/sign/signtest"
)

func TestLoadKey(t *testing.T) {
	priv, pub := signtest.KeyPair(t, "s3cret")
	legacy, _ := signtest.LegacyKeyPair(t, "s3cret")
	empty, _ := signtest.KeyPair(t, "")
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	plain := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	damaged := []byte(strings.Replace(string(priv), string(priv[60:70]), "AAAAAAAAAA", 1))

	tests := []struct {
		name     string
		pem      []byte
		password string
		want     error
		msg      string
	}{
		{"cosign key", priv, "s3cret", nil, ""},
		{"cosign 1.x key", legacy, "s3cret", nil, ""},
		{"empty password", empty, "", nil, ""},
		{"wrong password", priv, "guess", sign.ErrWrongPassword, "does not decrypt"},
		{"no password for a protected key", priv, "", sign.ErrWrongPassword, "does not decrypt"},
		{"public key", pub, "", sign.ErrNotCosignKey, "this is the public key"},
		{"unencrypted PKCS #8", plain, "", sign.ErrNotCosignKey, "cosign import-key-pair"},
		{"not PEM", []byte("ssh-ed25519 AAAA… user@host"), "", sign.ErrNotCosignKey, "no PEM block"},
		{"damaged", damaged, "s3cret", sign.ErrNotCosignKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := sign.LoadKey(tt.pem, []byte(tt.password))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(k.PublicKeyPEM()), "PUBLIC KEY") {
					t.Errorf("public key = %s", k.PublicKeyPEM())
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want %v with %q", err, tt.want, tt.msg)
			}
			if tt.password != "" && err != nil && strings.Contains(err.Error(), tt.password) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	k, err := sign.LoadKey(priv, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if string(k.PublicKeyPEM()) != string(pub) {
		t.Error("the loaded key's public half is not the pair's")
	}
}

func TestLoadPublicKey(t *testing.T) {
	priv, pub := signtest.KeyPair(t, "x")
	if _, err := sign.LoadPublicKey(pub); err != nil {
		t.Fatal(err)
	}
	if _, err := sign.LoadPublicKey(priv); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Errorf("private key as public: err = %v", err)
	}
	if _, err := sign.LoadPublicKey([]byte("nope")); err == nil {
		t.Error("not PEM: no error")
	}
}

func statement(t *testing.T, typ string, pred any, d name.Digest) attest.Statement {
	t.Helper()
	h, _ := v1.NewHash(d.DigestStr())
	st, err := attest.New(typ, pred, h, d.Context().String())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSignAndAttest: signatures and attestations land where cosign looks,
// verify with the key, and are stored once however often a release runs.
func TestSignAndAttest(t *testing.T) {
	ctx := context.Background()
	host := signtest.Registry(t)
	d := signtest.RandomImage(t, host+"/acme/api")
	key, pub := signtest.Key(t)
	o := push.Options{}

	tag, err := key.Image(ctx, d, o)
	if err != nil {
		t.Fatal(err)
	}
	if want := host + "/acme/api:sha256-" + strings.TrimPrefix(d.DigestStr(), "sha256:") + ".sig"; tag.String() != want {
		t.Errorf("signature tag %s, want %s", tag, want)
	}
	if _, err := key.Image(ctx, d, o); err != nil {
		t.Fatal(err)
	}
	layers, err := sign.ReadLayers(ctx, tag, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d signature layers after signing twice, want 1", len(layers))
	}
	v, err := sign.LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := sign.VerifySignature(v, layers[0]); err != nil {
		t.Errorf("signature does not verify with the public key: %v", err)
	}
	var p struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(layers[0].Payload, &p); err != nil || p.Critical.Image.Digest != d.DigestStr() || p.Critical.Type != "cosign container image signature" {
		t.Errorf("payload %s (%v)", layers[0].Payload, err)
	}
	other, _ := signtest.Key(t)
	if err := sign.VerifySignature(other.Verifier(), layers[0]); err == nil {
		t.Error("the signature verifies with another key")
	}

	// A foreign attestation survives; go-image's own types are replaced.
	foreign := statement(t, "https://example.com/review/v1", map[string]string{"by": "alice"}, d)
	if _, err := key.Attest(ctx, d, []attest.Statement{foreign}, o); err != nil {
		t.Fatal(err)
	}
	for _, run := range []string{"first", "second"} {
		sts := []attest.Statement{
			statement(t, attest.SLSAProvenanceType, map[string]string{"run": run}, d),
			statement(t, attest.GateReportType, map[string]string{"run": run}, d),
		}
		if _, err := key.Attest(ctx, d, sts, o); err != nil {
			t.Fatal(err)
		}
	}
	atag, _ := sign.AttestationTag(d)
	layers, err = sign.ReadLayers(ctx, atag, o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range layers {
		st, err := sign.VerifyAttestation(v, l)
		if err != nil {
			t.Fatalf("attestation does not verify: %v", err)
		}
		if l.MediaType != sign.DSSEMediaType || l.Annotations[sign.PredicateTypeAnnotation] != st.PredicateType {
			t.Errorf("layer %s annotations %v for %s", l.MediaType, l.Annotations, st.PredicateType)
		}
		h, _ := v1.NewHash(d.DigestStr())
		if !st.About(h) {
			t.Errorf("%s statement not about %s", st.PredicateType, d)
		}
		got = append(got, st.PredicateType+"="+string(st.Predicate))
	}
	want := []string{
		`https://example.com/review/v1={"by":"alice"}`,
		attest.SLSAProvenanceType + `={"run":"second"}`,
		attest.GateReportType + `={"run":"second"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("attestations:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReadLayersNotFound(t *testing.T) {
	host := signtest.Registry(t)
	d := signtest.RandomImage(t, host+"/acme/api")
	tag, _ := sign.SignatureTag(d)
	if _, err := sign.ReadLayers(context.Background(), tag, push.Options{}); !errors.Is(err, sign.ErrNotFound) {
		t.Errorf("unsigned image: err = %v, want ErrNotFound", err)
	}
}

// TestCosignReadsKeysAndSignatures: a key pair from the real
// `cosign generate-key-pair` loads, and what it signs `cosign verify`
// accepts; an image signed by the real `cosign sign` verifies with
// go-image's reader. Both directions of the format, against the CLI.
func TestCosignInterop(t *testing.T) {
	bin := signtest.Cosign(t)
	ctx := context.Background()
	dir := t.TempDir()
	env := []string{"COSIGN_PASSWORD=pw-from-cosign"}
	out, err := signtest.Run(t, bin, env, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
	if err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	privPEM, _ := os.ReadFile(filepath.Join(dir, "cosign.key"))
	key, err := sign.LoadKey(privPEM, []byte("pw-from-cosign"))
	if err != nil {
		t.Fatalf("cosign's own key: %v", err)
	}
	if _, err := sign.LoadKey(privPEM, []byte("wrong")); !errors.Is(err, sign.ErrWrongPassword) {
		t.Errorf("cosign's key, wrong password: %v", err)
	}
	pubFile := filepath.Join(dir, "cosign.pub")

	host := signtest.Registry(t)
	d := signtest.RandomImage(t, host+"/acme/api")
	if _, err := key.Image(ctx, d, push.Options{}); err != nil {
		t.Fatal(err)
	}
	out, err = signtest.Run(t, bin, nil, append(append([]string{"verify"}, signtest.VerifyArgs(pubFile)...), d.String())...)
	if err != nil {
		t.Fatalf("cosign verify of go-image's signature: %v\n%s", err, out)
	}
	t.Logf("cosign verify: %s", firstLines(out, 6))

	// And the other way: cosign signs, go-image reads and verifies.
	d2 := signtest.RandomImage(t, host+"/acme/other")
	out, err = signtest.Run(t, bin, env, "sign", "--key", filepath.Join(dir, "cosign.key"), "--tlog-upload=false",
		"--allow-insecure-registry", "--allow-http-registry", "--yes", d2.String())
	if err != nil {
		t.Fatalf("cosign sign: %v\n%s", err, out)
	}
	tag, _ := sign.SignatureTag(d2)
	layers, err := sign.ReadLayers(ctx, tag, push.Options{})
	if err != nil || len(layers) != 1 {
		t.Fatalf("cosign's signature: %d layers, %v", len(layers), err)
	}
	if err := key.VerifyLayer(layers[0]); err != nil {
		t.Errorf("cosign's signature does not verify with go-image's reader: %v", err)
	}
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// TestCosignPin: the cosign the tests verify with is the one
// ci/install-tools.sh builds, and the binary found reports that version.
func TestCosignPin(t *testing.T) {
	b, err := os.ReadFile("../../ci/install-tools.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^COSIGN_VERSION=(\S+)$`).FindSubmatch(b)
	if m == nil || string(m[1]) != sign.CosignVersion {
		t.Errorf("ci/install-tools.sh pins %q, sign.CosignVersion is %q", m, sign.CosignVersion)
	}
	bin := signtest.Cosign(t)
	out, err := signtest.Run(t, bin, nil, "version")
	if err != nil || !strings.Contains(out, strings.TrimPrefix(sign.CosignVersion, "v")) {
		t.Errorf("cosign version: %v\n%s", err, out)
	}
}
