package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dagger/go-image/internal/sign/signtest"
)

// TestEngineSignedRelease releases the example service with a cosign key
// given as a secret: the real cosign CLI accepts the signature and the
// three attestations, and the module's verify accepts the digest and
// refuses another key.
func TestEngineSignedRelease(t *testing.T) {
	engine(t)
	cosign := signtest.Cosign(t)
	t.Parallel()
	dir := t.TempDir()
	priv, pub := signtest.KeyPair(t, "e2e-password")
	keyFile, pubFile := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	for f, data := range map[string][]byte{keyFile: priv, pubFile: pub} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	passFile := filepath.Join(dir, "password")
	if err := os.WriteFile(passFile, []byte("e2e-password"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := loopbackRegistry(t)
	addr := reg + "/e2e/signed:1.0.0"
	r := call(t, "--source=./testdata/service", "--version=1.0.0", "--revision=e2e0123",
		"without-scan", "--reason=e2e: scanned in TestEngineRelease",
		"release", "--address="+addr, "--registry=tcp://"+reg,
		"--sign-key=file:"+keyFile, "--sign-password=file:"+passFile)
	if r.err != nil {
		t.Fatalf("signed release: %s", r.failed())
	}
	if strings.Contains(r.stderr, "e2e-password") || strings.Contains(r.stdout, "e2e-password") {
		t.Error("the key password appears in the output")
	}
	ref := strings.TrimSpace(r.stdout)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	insecure := []string{"--insecure-ignore-tlog", "--allow-insecure-registry", "--allow-http-registry"}
	cmds := [][]string{append([]string{"verify", "--key", pubFile}, insecure...)}
	for _, typ := range []string{"slsaprovenance1", "spdxjson", "https://go-image.dev/attestation/gate-report/v1"} {
		cmds = append(cmds, append([]string{"verify-attestation", "--key", pubFile, "--type", typ}, insecure...))
	}
	for _, args := range cmds {
		out, err := exec.CommandContext(ctx, cosign, append(args, ref)...).CombinedOutput()
		if err != nil {
			t.Errorf("cosign %s: %v\n%s", strings.Join(args[:3], " "), err, lastLines(out, 10))
		}
	}
	v := call(t, "--source=./testdata/service", "verify", "--image="+ref, "--key="+pubFile, "--revision=e2e0123", "--registry=tcp://"+reg)
	if v.err != nil {
		t.Errorf("dagger call verify: %s", v.failed())
	}
	// A tag beside the digest (repo:tag@sha256:…) names the same image.
	tagged := strings.Replace(ref, "@", ":1.0.0@", 1)
	if v := call(t, "--source=./testdata/service", "verify", "--image="+tagged, "--key="+pubFile, "--registry=tcp://"+reg); v.err != nil {
		t.Errorf("dagger call verify --image=%s: %s", tagged, v.failed())
	}
	// The release switched the scan off: requireGates names it, the
	// verification fails and says so; the gates that ran pass.
	wantFail(t, call(t, "--source=./testdata/service", "verify", "--image="+ref, "--key="+pubFile, "--registry=tcp://"+reg, "--require-gates=all"), "scan gate switched off")
	if v := call(t, "--source=./testdata/service", "verify", "--image="+ref, "--key="+pubFile, "--registry=tcp://"+reg, "--require-gates=size,harden,smoke"); v.err != nil {
		t.Errorf("dagger call verify --require-gates=size,harden,smoke: %s", v.failed())
	}
	_, otherPub := signtest.KeyPair(t, "other")
	other := filepath.Join(dir, "other.pub")
	if err := os.WriteFile(other, otherPub, 0o600); err != nil {
		t.Fatal(err)
	}
	wantFail(t, call(t, "--source=./testdata/service", "verify", "--image="+ref, "--key="+other, "--registry=tcp://"+reg), "wrong key")
}

// TestEngineSignKeyPreflight: a wrong password fails before anything is
// built or pushed.
func TestEngineSignKeyPreflight(t *testing.T) {
	t.Parallel()
	priv, _ := signtest.KeyPair(t, "right")
	dir := t.TempDir()
	keyFile, passFile := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "password")
	for f, data := range map[string][]byte{keyFile: priv, passFile: []byte("wrong")} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reg := loopbackRegistry(t)
	r := call(t, "--source=./testdata/service", "release", "--address="+reg+"/e2e/never:1", "--registry=tcp://"+reg,
		"--sign-key=file:"+keyFile, "--sign-password=file:"+passFile)
	wantFail(t, r, "wrong password")
	if strings.Contains(r.stderr, "go-image: build") {
		t.Error("the release built before refusing the key")
	}
}

// TestEngineSbomSPDX: the default SBOM is SPDX 2.3 naming the module.
func TestEngineSbomSPDX(t *testing.T) {
	t.Parallel()
	out := tmpPath(t, "sbom.spdx.json")
	mustCall(t, "--source=./testdata/vuln/xtext-0.3.7", "sbom", "export", "--path="+out)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name        string `json:"name"`
			VersionInfo string `json:"versionInfo"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range doc.Packages {
		found = found || (p.Name == "golang.org/x/text" && p.VersionInfo == "v0.3.7")
	}
	if doc.SPDXVersion != "SPDX-2.3" || !found {
		t.Errorf("SPDX: version %q, golang.org/x/text v0.3.7 listed: %v", doc.SPDXVersion, found)
	}
}
