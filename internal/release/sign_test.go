package release

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/sbom"
	"dagger/go-image/internal/sign"
	"dagger/go-image/internal/sign/signtest"
	"dagger/go-image/internal/verify"
)

func signing(t *testing.T, key *sign.Key) *Signing {
	o, err := recipe.Options{Name: "service", Version: "1.2.3", Revision: "0123456789abcdef0123456789abcdef01234567",
		Source: "https://example.com/acme/service", SourceDateEpoch: epoch.Unix()}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	return &Signing{Key: key, Build: attest.Build{Recipe: o, BuilderID: attest.BuilderCLI, GoImageVersion: "test"}}
}

// TestSignedRelease: a signed multi-platform release signs the index and
// each platform image, attests provenance, SBOM and gate report about the
// index digest in every repository, and only then moves the tags; what it
// wrote verifies with the public key.
func TestSignedRelease(t *testing.T) {
	host, _ := serve(t)
	key, pub := signtest.Key(t)
	addrs := []string{host + "/acme/service:1.2.3", host + "/mirror/service:1.2.3"}
	r := request(t, addrs, "linux/amd64,linux/arm64")
	r.Sign = signing(t, key)
	before := time.Now()
	res, err := Run(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	// Two repositories: each holds two platform signatures and the index's, last.
	if len(res.Signatures) != 6 || !strings.HasSuffix(res.Signatures[2], ":sha256-"+res.Digest.Hex+".sig") || len(res.Attestations) != 2 {
		t.Errorf("signatures %v, attestations %v", res.Signatures, res.Attestations)
	}
	var types []string
	for _, st := range res.Statements {
		types = append(types, st.PredicateType)
		if !st.About(res.Digest) || len(st.Subject) != 2 {
			t.Errorf("%s statement subjects %+v, want the index digest in both repositories", st.PredicateType, st.Subject)
		}
	}
	if want := attest.SLSAProvenanceType + " " + attest.SPDXType + " " + attest.GateReportType; strings.Join(types, " ") != want {
		t.Errorf("statements %v, want %s", types, want)
	}
	var prov attest.Provenance
	if err := json.Unmarshal(res.Statements[0].Predicate, &prov); err != nil {
		t.Fatal(err)
	}
	md := prov.RunDetails.Metadata
	if md.StartedOn == nil || md.FinishedOn == nil || md.StartedOn.Before(before.Add(-time.Second)) || md.FinishedOn.Before(*md.StartedOn) {
		t.Errorf("invocation times %v – %v, want within the run", md.StartedOn, md.FinishedOn)
	}
	if got := strings.Join(prov.BuildDefinition.ExternalParameters.Platforms, ","); got != "linux/amd64,linux/arm64" {
		t.Errorf("provenance platforms %s", got)
	}
	var goDep *attest.ResourceDescriptor
	for i, d := range prov.BuildDefinition.ResolvedDependencies {
		if d.Name == "go" {
			goDep = &prov.BuildDefinition.ResolvedDependencies[i]
		}
	}
	if goDep == nil || !strings.HasPrefix(goDep.Annotations["goVersion"], "go1.") {
		t.Errorf("resolved dependencies %+v lack the Go toolchain read from the binary", prov.BuildDefinition.ResolvedDependencies)
	}
	var doc sbom.SPDXDocument
	if err := json.Unmarshal(res.Statements[1].Predicate, &doc); err != nil || doc.SPDXVersion != "SPDX-2.3" {
		t.Errorf("SBOM predicate %.200s (%v)", res.Statements[1].Predicate, err)
	}

	// The real cosign accepts the index's signature and each platform's.
	t.Run("cosign", func(t *testing.T) {
		bin := signtest.Cosign(t)
		pubFile := filepath.Join(t.TempDir(), "cosign.pub")
		if err := os.WriteFile(pubFile, pub, 0o644); err != nil {
			t.Fatal(err)
		}
		refs := []string{res.Pushed.Ref()}
		for _, img := range res.Images {
			d, _ := img.Digest()
			refs = append(refs, host+"/mirror/service@"+d.String())
		}
		for _, ref := range refs {
			if out, err := signtest.Run(t, bin, nil, append(append([]string{"verify"}, signtest.VerifyArgs(pubFile)...), ref)...); err != nil {
				t.Errorf("cosign verify %s: %v\n%s", ref, err, out)
			}
		}
	})
	v, err := sign.LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		got, err := verify.Image(context.Background(), a, v, verify.Options{Revision: "0123456789abcdef0123456789abcdef01234567"})
		if err != nil {
			t.Fatalf("verify %s: %v", a, err)
		}
		if got.Digest.DigestStr() != res.Digest.String() || len(got.Platforms) != 2 || got.Report.Image != res.Pushed.Ref() || got.SBOM != attest.SPDXType {
			t.Errorf("verify %s: %+v", a, got)
		}
	}
}

// TestSignFailureMovesNoTag: when the registry refuses the signature, the
// release fails, says the image is not signed, claims no signature, and
// the tag stays where it was (here: nowhere).
func TestSignFailureMovesNoTag(t *testing.T) {
	host, w := serve(t)
	next := w.next
	w.next = http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPut && strings.HasSuffix(req.URL.Path, ".sig") {
			http.Error(rw, `{"errors":[{"code":"DENIED","message":"no signatures here"}]}`, http.StatusForbidden)
			return
		}
		next.ServeHTTP(rw, req)
	})
	key, _ := signtest.Key(t)
	r := request(t, []string{host + "/acme/service:1.2.3"}, "linux/amd64")
	r.Sign = signing(t, key)
	res, err := Run(context.Background(), r)
	var se *SignError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "not signed, and no tag moved") || !strings.Contains(err.Error(), "403") {
		t.Fatalf("err = %v, want a SignError naming the refusal", err)
	}
	if res == nil || len(res.Signatures) != 0 || res.Pushed == nil || len(res.Pushed.Tags) != 0 {
		t.Errorf("result claims signatures %v or tags %v", res.Signatures, res.Pushed)
	}
	if _, err := remote.Head(mustRef(t, host+"/acme/service:1.2.3")); err == nil {
		t.Error("the tag was written although signing failed")
	}
}
