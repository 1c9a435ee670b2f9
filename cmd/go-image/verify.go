package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"dagger/go-image/internal/push"
	"dagger/go-image/internal/sign"
	"dagger/go-image/internal/verify"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	image := fs.String("image", "", "image to verify, REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:… (required)")
	keyFile := new(string)
	pathVar(fs, keyFile, "key", "", "public key file, cosign.pub (required)")
	revision := fs.String("revision", "", "require the provenance's source revision to be this (e.g. the commit the tag points at)")
	requireGates := fs.String("require-gates", "", "gates that must have run, not switched off by the release's policy: a list of size, scan, upx, harden, lint, smoke, or all")
	username := fs.String("username", "", "registry username (default: the docker config / credential helpers)")
	passwordEnv := fs.String("password-env", "", "NAME of the environment variable holding the registry password or token")
	insecure := fs.Bool("insecure", false, "allow plain HTTP and unverified TLS to the registry")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *image == "" {
		return usageError{fmt.Errorf("--image is required: the image to verify, e.g. --image ghcr.io/acme/api:1.2.3")}
	}
	if *keyFile == "" {
		return usageError{fmt.Errorf("--key is required: the public key of the release's signing key, e.g. --key cosign.pub")}
	}
	gates, err := verify.ParseGates(*requireGates)
	if err != nil {
		return usageError{fmt.Errorf("--require-gates: %w", err)}
	}
	creds, err := credentials(*username, *passwordEnv)
	if err != nil {
		return usageError{err}
	}
	pem, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("--key %s: %w", *keyFile, err)
	}
	v, err := sign.LoadPublicKey(pem)
	if err != nil {
		return fmt.Errorf("--key %s: %w", *keyFile, err)
	}
	res, err := verify.Image(ctx, *image, v, verify.Options{
		Revision:     *revision,
		RequireGates: gates,
		Registry:     push.Options{Credentials: creds, Insecure: *insecure},
	})
	if err != nil {
		return fmt.Errorf("NOT verified: %w", err)
	}
	fmt.Fprint(stderr, res.Summary())
	fmt.Fprintln(stdout, res.Digest)
	return nil
}
