// Package signtest gives tests cosign key pairs made the way
// `cosign generate-key-pair` makes them, and the real cosign CLI (or a
// loud skip) to check go-image's signatures with.
package signtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"dagger/go-image/internal/sign"
)

// KeyPair returns a new ECDSA P-256 key pair as cosign writes it: the
// private key PKCS #8, encrypted with password (scrypt + secretbox), in an
// "ENCRYPTED SIGSTORE PRIVATE KEY" PEM block; the public key PKIX PEM.
func KeyPair(t testing.TB, password string) (priv, pub []byte) {
	t.Helper()
	return keyPair(t, password, "ENCRYPTED SIGSTORE PRIVATE KEY")
}

// LegacyKeyPair is KeyPair with cosign 1.x's PEM type.
func LegacyKeyPair(t testing.TB, password string) (priv, pub []byte) {
	t.Helper()
	return keyPair(t, password, "ENCRYPTED COSIGN PRIVATE KEY")
}

func keyPair(t testing.TB, password, pemType string) (priv, pub []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(k, cryptoutils.StaticPasswordFunc([]byte(password)))
	if err != nil {
		t.Fatal(err)
	}
	pub, err = cryptoutils.MarshalPublicKeyToPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), pub
}

// Key is a loaded KeyPair, and its public key PEM.
func Key(t testing.TB) (*sign.Key, []byte) {
	t.Helper()
	priv, pub := KeyPair(t, "test-password")
	k, err := sign.LoadKey(priv, []byte("test-password"))
	if err != nil {
		t.Fatal(err)
	}
	return k, pub
}

// SkipHint is the reason tests give when cosign is missing.
const SkipHint = "cosign binary not found: set GOIMAGE_COSIGN or run ci/install-tools.sh (builds cosign " + sign.CosignVersion + " from the Go module proxy)"

// Find returns the cosign CLI: $GOIMAGE_COSIGN, else cosign on PATH, else
// where ci/install-tools.sh puts it. ErrGone means GOIMAGE_COSIGN names no
// executable: CI (ci/test.sh sets it) saying cosign is there when it is not.
func Find() (string, error) {
	if p := os.Getenv("GOIMAGE_COSIGN"); p != "" {
		if !isExec(p) {
			return "", fmt.Errorf("%w: GOIMAGE_COSIGN=%s is not an executable file: run ci/install-tools.sh", ErrGone, p)
		}
		return p, nil
	}
	if p, err := exec.LookPath("cosign"); err == nil {
		return p, nil
	}
	dir := os.Getenv("GOIMAGE_TOOLS")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "go-image", "tools")
	}
	if p := filepath.Join(dir, "bin", "cosign"); isExec(p) {
		return p, nil
	}
	return "", errors.New(SkipHint)
}

// ErrGone: see Find.
var ErrGone = errors.New("cosign missing")

// Cosign returns the cosign CLI (see Find), or skips the test loudly; a
// GOIMAGE_COSIGN that names no executable fails it instead.
func Cosign(t testing.TB) string {
	t.Helper()
	p, err := Find()
	if errors.Is(err, ErrGone) {
		t.Fatal(err)
	}
	if err != nil {
		t.Skipf("SKIP (integration): %s", SkipHint)
	}
	return p
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Run runs cosign with args and returns its combined output. Cosign's
// environment is the test's minus COSIGN_* and SIGSTORE_* variables, with a
// fresh HOME and TUF root, so nothing of the machine's reaches it, and no
// network is tried for what the flags make unnecessary.
func Run(t testing.TB, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	home := t.TempDir()
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "COSIGN_") || strings.HasPrefix(kv, "SIGSTORE_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "TUF_ROOT=") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "HOME="+home, "TUF_ROOT="+filepath.Join(home, "tuf"), "DOCKER_CONFIG="+filepath.Join(home, "docker"))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// VerifyArgs are the flags that make `cosign verify` and
// `cosign verify-attestation` check a key signature offline against a
// plain-HTTP loopback registry.
func VerifyArgs(pubFile string) []string {
	return []string{"--key", pubFile, "--insecure-ignore-tlog", "--allow-insecure-registry", "--allow-http-registry"}
}
