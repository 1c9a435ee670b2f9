package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"dagger/go-image/internal/sign"
)

// defaultPasswordEnv is where cosign itself reads a key's password.
const defaultPasswordEnv = "COSIGN_PASSWORD"

// signFlags are release's signing options.
type signFlags struct {
	keyFile     string
	passwordEnv string
}

func addSignFlags(fs *flag.FlagSet) *signFlags {
	s := &signFlags{}
	pathVar(fs, &s.keyFile, "sign-key", "", "cosign private key file (cosign generate-key-pair's cosign.key): sign the pushed digest and each platform image, and attach signed provenance, SBOM and gate-report attestations; checked before the build")
	fs.StringVar(&s.passwordEnv, "sign-password-env", defaultPasswordEnv, "NAME of the environment variable holding the --sign-key password (never the value itself); unset means an empty password")
	return s
}

// key loads and decrypts the signing key, or returns nil without
// --sign-key. Called before the build: a missing file, a key in another
// format or a wrong password stop the release before anything is compiled
// or pushed.
func (s *signFlags) key() (*sign.Key, error) {
	if s.keyFile == "" {
		return nil, nil
	}
	if strings.ContainsAny(s.passwordEnv, "= $") || s.passwordEnv == "" {
		return nil, usageError{fmt.Errorf("--sign-password-env takes the NAME of an environment variable (e.g. %s), not its value or $NAME", defaultPasswordEnv)}
	}
	pem, err := os.ReadFile(s.keyFile)
	if err != nil {
		return nil, fmt.Errorf("--sign-key %s: %w: give the cosign.key that `cosign generate-key-pair` writes", s.keyFile, err)
	}
	pw, set := os.LookupEnv(s.passwordEnv)
	k, err := sign.LoadKey(pem, []byte(pw))
	if errors.Is(err, sign.ErrWrongPassword) {
		from := "$" + s.passwordEnv
		if !set {
			from += ", which is unset (an empty password)"
		}
		return nil, fmt.Errorf("--sign-key %s: wrong password (from %s): %w", s.keyFile, from, err)
	}
	if err != nil {
		return nil, fmt.Errorf("--sign-key %s: %w", s.keyFile, err)
	}
	return k, nil
}
