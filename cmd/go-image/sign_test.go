package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/sign"
	"dagger/go-image/internal/sign/signtest"
	"dagger/go-image/internal/trivy"
	"dagger/go-image/internal/trivy/trivytest"
)

const testRevision = "0123456789abcdef0123456789abcdef01234567"

// keyFiles writes a cosign key pair to dir: made by the real
// `cosign generate-key-pair` when cosign is here, else the same format by
// signtest. The password is in $env.
func keyFiles(t *testing.T, dir, env, password string) (keyFile, pubFile string) {
	t.Helper()
	t.Setenv(env, password)
	keyFile, pubFile = filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	if bin, err := signtest.Find(); err == nil {
		out, err := signtest.Run(t, bin, []string{"COSIGN_PASSWORD=" + password}, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
		if err != nil {
			t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
		}
		return keyFile, pubFile
	}
	priv, pub := signtest.KeyPair(t, password)
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return keyFile, pubFile
}

// TestReleaseSigned: `go-image release --sign-key` of the example service
// pushes a digest whose signature and attestations the real cosign
// accepts, whose SPDX SBOM the SPDX library reads, and which
// `go-image verify` accepts; verify refuses each way it can be wrong.
func TestReleaseSigned(t *testing.T) {
	noDockerConfig(t)
	host := testRegistry(t, nil)
	dir := t.TempDir()
	keyFile, pubFile := keyFiles(t, dir, "TEST_COSIGN_PW", "correct horse")
	sbomFile, reportFile := filepath.Join(dir, "sbom.spdx.json"), filepath.Join(dir, "report.json")

	scanArgs := []string{"--no-scan", "trivy absent on this machine"}
	withTrivy := false
	if bin, err := trivy.Find(""); err == nil {
		scanArgs, withTrivy = []string{"--trivy", bin, "--cache-dir", trivytest.CacheDir(t)}, true
	}
	release := func(repo, version string, signed bool) name.Digest {
		t.Helper()
		args := append([]string{"release", "--source", "../../testdata/service", "--version", version,
			"--revision", testRevision, "--source-url", "https://example.com/acme/service",
			"--platform", "linux/" + runtime.GOARCH, "--address", host + "/" + repo + ":" + version,
			"--sbom", sbomFile, "--report", reportFile, "--format", "json"}, scanArgs...)
		if signed {
			args = append(args, "--sign-key", keyFile, "--sign-password-env", "TEST_COSIGN_PW")
		}
		if repo != "acme/a" {
			// Only the first release needs the whole report.
			args = append(args, "--no-smoke", "covered by acme/a")
		}
		code, stdout, stderr := goImage(t, args...)
		if code != 0 {
			t.Fatalf("release %s: exit %d\n%s", repo, code, stderr)
		}
		if strings.Contains(stderr, "correct horse") {
			t.Error("the key password appears in the output")
		}
		if signed != strings.Contains(stderr, "go-image: signed ") {
			t.Errorf("signed=%v but stderr says otherwise:\n%s", signed, stderr)
		}
		d, err := name.NewDigest(strings.TrimSpace(stdout))
		if err != nil {
			t.Fatalf("stdout %q: %v", stdout, err)
		}
		return d
	}
	a := release("acme/a", "0.1.0", true)

	// The SBOM: SPDX 2.3, read and validated by the SPDX library, listing
	// the service and the Go standard library with their versions.
	b, err := os.ReadFile(sbomFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, p := range doc.Packages {
		versions[p.PackageName] = p.PackageVersion
	}
	if versions["example.com/service"] != "0.1.0" || !strings.HasPrefix(versions["stdlib"], "go1.") || versions[host+"/acme/a"] != "0.1.0" {
		t.Errorf("SPDX packages and versions: %v", versions)
	}

	// go-image verify accepts it, by digest and by tag, with the revision.
	for _, ref := range []string{a.String(), host + "/acme/a:0.1.0"} {
		code, stdout, stderr := goImage(t, "verify", "--image", ref, "--key", pubFile, "--revision", testRevision)
		if code != 0 || strings.TrimSpace(stdout) != a.String() {
			t.Fatalf("verify %s: exit %d stdout %q\n%s", ref, code, stdout, stderr)
		}
		for _, want := range []string{"signature:   1 by the key", "provenance:  built by " + attest.BuilderCLI, "gate report: PASS", "sbom:        " + attest.SPDXType} {
			if !strings.Contains(stderr, want) {
				t.Errorf("verify summary lacks %q:\n%s", want, stderr)
			}
		}
	}
	if withTrivy {
		gateReport(t, pubFile, a, func(g attest.GateReport) {
			for _, tl := range g.Tools {
				if tl.Name == "trivy" && tl.Version != "" && tl.DataUpdated != nil {
					return
				}
			}
			t.Errorf("gate report tools %+v lack trivy's version and DB date", g.Tools)
		})
	}

	// The real cosign accepts the signature and the three attestations.
	t.Run("cosign", func(t *testing.T) {
		bin := signtest.Cosign(t)
		vargs := signtest.VerifyArgs(pubFile)
		for _, c := range [][]string{
			{"verify"},
			{"verify-attestation", "--type", "slsaprovenance1"},
			{"verify-attestation", "--type", "spdxjson"},
			{"verify-attestation", "--type", attest.GateReportType},
		} {
			out, err := signtest.Run(t, bin, nil, append(append(c, vargs...), a.String())...)
			if err != nil {
				t.Errorf("cosign %s: %v\n%s", strings.Join(c, " "), err, out)
				continue
			}
			t.Logf("cosign %s: ok\n%s", strings.Join(c, " "), cosignSummary(out))
		}
		// The oracle can say no: no CycloneDX was attested (SPDX is the
		// default), and another key does not verify.
		if out, err := signtest.Run(t, bin, nil, append(append([]string{"verify-attestation", "--type", "cyclonedx"}, vargs...), a.String())...); err == nil {
			t.Errorf("cosign verify-attestation --type cyclonedx succeeded on an SPDX release:\n%s", out)
		}
		_, otherPub := keyFiles(t, t.TempDir(), "OTHER_PW", "other")
		if out, err := signtest.Run(t, bin, nil, append(append([]string{"verify"}, signtest.VerifyArgs(otherPub)...), a.String())...); err == nil {
			t.Errorf("cosign verify with another key succeeded:\n%s", out)
		}
	})

	// The five ways verify must refuse, each with its cause.
	unsigned := release("acme/u", "0.3.0", false)
	b2 := release("acme/b", "0.2.0", true)
	signtest.Copy(t, a, b2, "att")
	tampered := release("acme/t", "0.4.0", true)
	signtest.Tamper(t, tampered, func(st string) string {
		return strings.Replace(st, `"summary":"PASS`, `"summary":"PASS (reviewed)`, 1)
	})
	// A signed report with a failed check, as a tool other than
	// go-image's release (which never signs a failure) could attach.
	failed := release("acme/f", "0.5.0", false)
	keyPEM, _ := os.ReadFile(keyFile)
	key, err := sign.LoadKey(keyPEM, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	rep := &report.Report{}
	rep.Add(report.Result{Gate: "harden", ID: "harden/user-nonroot", Status: report.Fail, Message: "runs as root"})
	signtest.Released(t, key, failed, rep, testRevision)
	_, otherPub := keyFiles(t, t.TempDir(), "OTHER_PW", "other")
	for _, tt := range []struct {
		name, ref, key, revision, want string
	}{
		{"unsigned image", unsigned.String(), pubFile, "", "not signed"},
		{"wrong key", a.String(), otherPub, "", "wrong key"},
		{"tampered attestation", tampered.String(), pubFile, "", "tampered attestation"},
		{"failed gate", host + "/acme/f:0.5.0", pubFile, "", "failed gate"},
		{"attestation of another digest", b2.String(), pubFile, "", "about another image"},
		{"another revision", a.String(), pubFile, "v9.9.9", "wrong revision"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"verify", "--image", tt.ref, "--key", tt.key}
			if tt.revision != "" {
				args = append(args, "--revision", tt.revision)
			}
			code, stdout, stderr := goImage(t, args...)
			if code != 1 || stdout != "" || !strings.Contains(stderr, "NOT verified: "+tt.want) {
				t.Errorf("exit %d stdout %q, want 1 and %q:\n%s", code, stdout, tt.want, stderr)
			}
			t.Log(strings.TrimSpace(stderr))
		})
	}
}

// cosignSummary keeps cosign's account of what it checked, without its
// warnings and the payload it prints.
func cosignSummary(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Verification for") || strings.HasPrefix(strings.TrimSpace(l), "- ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// gateReport verifies d and hands its signed gate report to check.
func gateReport(t *testing.T, pubFile string, d name.Digest, check func(attest.GateReport)) {
	t.Helper()
	pem, _ := os.ReadFile(pubFile)
	v, err := sign.LoadPublicKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := sign.AttestationTag(d)
	layers, err := sign.ReadLayers(context.Background(), tag, push.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		st, err := sign.VerifyAttestation(v, l)
		if err != nil {
			t.Fatal(err)
		}
		if st.PredicateType == attest.GateReportType {
			var g attest.GateReport
			if err := json.Unmarshal(st.Predicate, &g); err != nil {
				t.Fatal(err)
			}
			check(g)
			return
		}
	}
	t.Errorf("%s has no gate report", d)
}

// TestReleasePreflight: a bad signing key or an unwritable output stops
// the release before anything is compiled or pushed, with the cause.
func TestReleasePreflight(t *testing.T) {
	noDockerConfig(t)
	host := testRegistry(t, nil)
	dir := t.TempDir()
	keyFile, pubFile := keyFiles(t, dir, "PF_PW", "right")
	t.Setenv("PF_WRONG", "wrong")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing key file", []string{"--sign-key", filepath.Join(dir, "nope.key")}, "no such file"},
		{"wrong password", []string{"--sign-key", keyFile, "--sign-password-env", "PF_WRONG"}, "wrong password (from $PF_WRONG)"},
		{"password unset", []string{"--sign-key", keyFile, "--sign-password-env", "PF_UNSET"}, "$PF_UNSET, which is unset"},
		{"not a cosign key", []string{"--sign-key", pubFile, "--sign-password-env", "PF_PW"}, "this is the public key"},
		{"--sbom in a missing directory", []string{"--sbom", filepath.Join(dir, "out", "sbom.json")}, "--sbom " + filepath.Join(dir, "out", "sbom.json") + ": directory"},
		{"--report is a directory", []string{"--report", dir}, "--report " + dir + ": is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"release", "--source", "../../testdata/service", "--address", host + "/acme/service:1",
				"--no-scan", "not under test", "--no-smoke", "not under test"}, tt.args...)
			code, stdout, stderr := goImage(t, args...)
			if code != 1 || stdout != "" || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d stdout %q, want 1 and %q:\n%s", code, stdout, tt.want, stderr)
			}
			if strings.Contains(stderr, "compile") || strings.Contains(stderr, "right") {
				t.Errorf("compiled before refusing, or printed the password:\n%s", stderr)
			}
		})
	}
	assertEmpty(t, host)
}

func TestBuildOutputPreflight(t *testing.T) {
	out := filepath.Join(t.TempDir(), "missing", "service.tar")
	code, _, stderr := goImage(t, "build", "--source", "../../testdata/service", "--output", out)
	if code != 1 || !strings.Contains(stderr, "--output "+out+": directory") || strings.Contains(stderr, "compile") {
		t.Errorf("exit %d, want 1 before compiling:\n%s", code, stderr)
	}
}

func TestVerifyUsage(t *testing.T) {
	dir := t.TempDir()
	keyFile, pubFile := keyFiles(t, dir, "VU_PW", "x")
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no image", []string{"--key", pubFile}, 2, "--image is required"},
		{"no key", []string{"--image", "r.example/a:b"}, 2, "--key is required"},
		{"private key", []string{"--image", "r.example/a:b", "--key", keyFile}, 1, "verify with the public key"},
		{"missing key", []string{"--image", "r.example/a:b", "--key", filepath.Join(dir, "none.pub")}, 1, "no such file"},
		{"bad reference", []string{"--image", "not a ref", "--key", pubFile}, 1, "want REGISTRY/REPO:TAG"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := goImage(t, append([]string{"verify"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tt.code, tt.want, stderr)
			}
		})
	}
}
