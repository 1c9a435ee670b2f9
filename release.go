package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/engine"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/release"
	"dagger/go-image/internal/sbom"
	"dagger/go-image/internal/sign"
	"dagger/go-image/internal/timing"
	"dagger/go-image/internal/verify"
)

// Release builds the image for every platform, runs every gate on each
// platform's image and, only if no check failed, pushes it (an OCI index
// for several platforms) to every address: blobs, then the manifest by
// digest, tags last. It returns the pushed reference, repo@sha256:…, the
// digest Tarball and `go-image build` give for the same inputs.
// +cache="never"
func (m *GoImage) Release(
	ctx context.Context,
	// Where to push, REGISTRY/REPO:TAG, registry and tag written out; one or more.
	address []string,
	// Registry username, used with password (default: anonymous).
	// +optional
	username string,
	// Registry password or token; never printed.
	// +optional
	password *dagger.Secret,
	// Comma-separated target platforms, e.g. linux/amd64,linux/arm64 (default: the constructor's platform). The smoke gate runs the engine's own platform and reports the others as not run.
	// +optional
	platforms string,
	// Push the CycloneDX SBOM as an OCI referrer of the pushed digest.
	// +optional
	attachSbom bool,
	// Allow plain HTTP and unverified TLS to the registry (private-network and loopback registries use HTTP without it).
	// +optional
	insecure bool,
	// The registry of a loopback address (localhost:5000/…), as a service: pass tcp://localhost:5000 from the dagger CLI. Inside a function, 127.0.0.1 is the function's own container, so a registry on your machine is reached through this tunnel.
	// +optional
	registry *dagger.Service,
	// Cosign private key (the cosign.key of `cosign generate-key-pair`): sign the pushed digest and each platform image, and attest the SLSA provenance, the SBOM and the gate report, offline (nothing goes to a transparency log). Checked before anything builds.
	// +optional
	signKey *dagger.Secret,
	// Password of signKey (cosign's COSIGN_PASSWORD).
	// +optional
	signPassword *dagger.Secret,
	// SBOM format attached (attachSbom) or attested (signKey): spdx or cyclonedx (default: spdx).
	// +optional
	sbomFormat string,
) (string, error) {
	ctx, logTimings := timing.Logged(ctx, os.Stderr)
	defer logTimings()
	sbomFmt, err := sbom.ParseFormat(sbomFormat)
	if err != nil {
		return "", err
	}
	// A bad key or password is found now, not after the push.
	key, err := signingKey(ctx, signKey, signPassword)
	if err != nil {
		return "", err
	}
	var list []string
	if platforms != "" {
		list = strings.Split(platforms, ",")
	}
	if err := release.CheckAddresses(address, insecure); err != nil {
		return "", err
	}
	end := timing.Start(ctx, "module: choices, go.mod, gate list, registry")
	c, err := m.start(ctx, list...)
	if err != nil {
		return "", err
	}
	names := c.names()
	byName, err := release.Addresses(address, names)
	if err != nil {
		return "", fmt.Errorf("address: %w", err)
	}
	var all []string // every binary's, {name} filled in
	for _, n := range names {
		all = append(all, byName[n]...)
	}
	popts, err := registryOptions(ctx, all, registry, username, password, insecure)
	if err != nil {
		return "", err
	}
	popts.Log = os.Stderr
	r, err := c.runners(ctx, m.trivy(), func(string) bool { return true })
	if err != nil {
		return "", err
	}
	end()
	var reqs []release.Named
	for _, b := range c.bins {
		ps, err := b.Choices.Recipe.PlatformList()
		if err != nil {
			return "", err
		}
		gs, err := b.Choices.Gates.List(ctx, c.files, r)
		if err != nil {
			return "", err
		}
		var signing *release.Signing
		if key != nil {
			signing = &release.Signing{Key: key, Build: attest.Build{
				Recipe: b.Options, BuilderID: attest.BuilderDagger, GoImageVersion: attest.GoImageVersion(),
				Dependencies: b.Dependencies(ctx), StartedOn: time.Now(), Config: c.provenance(),
			}}
		}
		log := io.Writer(os.Stderr)
		if len(c.bins) > 1 {
			log = release.PrefixLog(os.Stderr, "["+b.Name+"] ")
		}
		o := popts
		o.Log = log
		reqs = append(reqs, release.Named{Name: b.Name, Request: release.Request{
			Platforms: ps, Gates: gs, Addresses: byName[b.Name], Push: o,
			Build:      c.builder(b),
			AttachSBOM: attachSbom, SBOMFormat: sbomFmt, Sign: signing,
			Version: b.Options.Version, Created: b.Options.Created(), Log: log, Settings: b.ReportSettings(),
		}})
	}
	results, err := release.RunAll(ctx, reqs, c.limit())
	// The reports are shown whether the release passed or was blocked.
	if len(results) == 1 {
		if werr := results[0].WriteReport(os.Stderr); werr != nil && err == nil {
			err = werr
		}
	} else if werr := release.Images(names, results).Write(os.Stderr, "text"); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return "", err
	}
	refs := make([]string, len(results))
	for i, res := range results {
		if err := res.WriteEpilogue(os.Stderr, "dagger call verify"); err != nil {
			return "", err
		}
		refs[i] = res.Pushed.Ref()
	}
	return strings.Join(refs, "\n"), nil
}

// builder hands out b's image for each of its platforms, building the
// images of every binary of the call for a platform at once, on first
// use (engine.Images: as few go builds as the recipes allow).
func (c *call) builder(b *binary) release.Builder {
	return func(ctx context.Context, p recipe.Platform) (v1.Image, error) {
		imgs, err := c.platformImages(ctx, p)
		if err != nil {
			return nil, err
		}
		img, ok := imgs[b.Name]
		if !ok {
			return nil, fmt.Errorf("binary %s has no image for %s (go-image bug)", b.Name, p)
		}
		return img, nil
	}
}

// provenance is the policy file as the provenance records it.
func (c *call) provenance() *attest.Config {
	if c.cfg == nil {
		return nil
	}
	return attest.ConfigFile(c.cfg.Path, c.cfg.Digest)
}

// signingKey decrypts the cosign key, nil when none is given.
func signingKey(ctx context.Context, key, password *dagger.Secret) (*sign.Key, error) {
	if key == nil {
		if password != nil {
			return nil, fmt.Errorf("signPassword given without signKey: pass the cosign.key as --sign-key (e.g. env:COSIGN_KEY)")
		}
		return nil, nil
	}
	pem, err := key.Plaintext(ctx)
	if err != nil {
		return nil, fmt.Errorf("signKey secret: %w", err)
	}
	var pw string
	if password != nil {
		if pw, err = password.Plaintext(ctx); err != nil {
			return nil, fmt.Errorf("signPassword secret: %w", err)
		}
	}
	k, err := sign.LoadKey([]byte(pem), []byte(pw))
	if err != nil {
		return nil, fmt.Errorf("signKey: %w", err)
	}
	return k, nil
}

// Verify checks a pushed image as an admission policy would, with the
// public key of the release's signing key: the signature on the digest
// (and on each platform image of an index), the SLSA provenance (its
// source revision, when given) and the gate report (no failed check), each
// attestation about this very digest. It fails with the cause otherwise.
// +cache="never"
func (m *GoImage) Verify(
	ctx context.Context,
	// The image, REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:….
	image string,
	// The public key, cosign.pub.
	key *dagger.File,
	// The source revision the provenance must name (default: any).
	// +optional
	revision string,
	// Registry username, used with password (default: anonymous).
	// +optional
	username string,
	// Registry password or token; never printed.
	// +optional
	password *dagger.Secret,
	// Allow plain HTTP and unverified TLS to the registry.
	// +optional
	insecure bool,
	// The registry of a loopback image reference, as a service (see release).
	// +optional
	registry *dagger.Service,
	// Gates that must have run, not switched off by the release's policy: a comma-separated list of size, scan, upx, harden, lint, smoke, or all (default: none; a signed report with a gate switched off still verifies).
	// +optional
	requireGates string,
) (string, error) {
	gates, err := verify.ParseGates(requireGates)
	if err != nil {
		return "", fmt.Errorf("requireGates: %w", err)
	}
	pub, err := key.Contents(ctx)
	if err != nil {
		return "", fmt.Errorf("key: %w", err)
	}
	v, err := sign.LoadPublicKey([]byte(pub))
	if err != nil {
		return "", err
	}
	// The tunnel needs the registry host, which registryOptions reads off a
	// tag; a digest reference (repo@sha256:…, repo:tag@sha256:…) gives it
	// through its repository.
	ref, err := name.ParseReference(image, name.WeakValidation)
	if err != nil {
		return "", fmt.Errorf("image %q: %w: give REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:…", image, err)
	}
	popts, err := registryOptions(ctx, []string{ref.Context().Tag("verify").String()}, registry, username, password, insecure)
	if err != nil {
		return "", err
	}
	res, err := verify.Image(ctx, image, v, verify.Options{Revision: revision, Registry: popts, RequireGates: gates})
	if err != nil {
		return "", err
	}
	return res.Summary(), nil
}

// registryOptions are how release and verify reach the addresses'
// registry: through the registry service for a loopback address, with the
// credentials when given (both, or neither).
func registryOptions(ctx context.Context, address []string, registry *dagger.Service, username string, password *dagger.Secret, insecure bool) (push.Options, error) {
	o := push.Options{Insecure: insecure}
	var err error
	if o.Transport, err = registryTransport(ctx, address, registry); err != nil {
		return o, err
	}
	if username == "" && password == nil {
		return o, nil
	}
	if username == "" || password == nil {
		return o, fmt.Errorf("registry credentials: give both username and password, or neither")
	}
	pw, err := password.Plaintext(ctx)
	if err != nil {
		return o, fmt.Errorf("registry password secret: %w", err)
	}
	o.Credentials = push.Credentials{Username: username, Password: pw, PasswordFrom: "the password secret"}
	return o, nil
}

// registryTransport reaches the loopback registry of the addresses through
// the registry service (push.TunnelRegistry says which, and refuses a
// loopback address without one).
func registryTransport(ctx context.Context, address []string, registry *dagger.Service) (http.RoundTripper, error) {
	loopback, err := push.TunnelRegistry(address, registry != nil)
	if err != nil || loopback == "" {
		return nil, err
	}
	svc, err := registry.Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("start the registry service: %w", err)
	}
	ep, err := engine.ServiceAddr(ctx, svc, 0)
	if err != nil {
		return nil, fmt.Errorf("registry service: %w", err)
	}
	return push.DialVia(loopback, ep), nil
}
