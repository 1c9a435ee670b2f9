package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"dagger/go-image/internal/buildcache"
	"dagger/go-image/internal/local"
)

// runCacheprog is the GOCACHEPROG program that --build-cache points the go
// command at: this very binary, so there is nothing else to install.
func runCacheprog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := buildcache.Main(ctx, args, os.Stdin, stdout, stderr)
	var ue buildcache.UsageError
	if errors.As(err, &ue) {
		return usageError{err}
	}
	return err
}

// buildCacheFlags are --build-cache and its credentials, shared by build
// and release.
type buildCacheFlags struct {
	ref, keyEnv, username, passwordEnv string
	insecure                           bool
}

func addBuildCacheFlags(fs *flag.FlagSet) *buildCacheFlags {
	f := &buildCacheFlags{}
	fs.StringVar(&f.ref, "build-cache", "", "REGISTRY/REPO[:TAG]: share the Go build cache through this registry repository (tag default "+buildcache.DefaultTag+"; see README, Remote build cache)")
	fs.StringVar(&f.keyEnv, "build-cache-key-env", buildcache.DefaultKeyEnv, "NAME of the environment variable holding the build cache's MAC key (at least 16 bytes, e.g. from openssl rand -hex 32)")
	fs.StringVar(&f.username, "build-cache-username", "", "build cache registry username (default: the docker config / credential helpers)")
	fs.StringVar(&f.passwordEnv, "build-cache-password-env", "", "NAME of the environment variable holding the build cache registry's password or token")
	fs.BoolVar(&f.insecure, "build-cache-insecure", false, "allow plain HTTP and unverified TLS to the build cache registry")
	return f
}

// open checks the flags and the secrets they name, before any build, and
// opens the cache; nil without --build-cache. The registry is read in the
// background: a registry that is down costs a warning, not the build.
func (f *buildCacheFlags) open(ctx context.Context, log io.Writer) (*buildcache.Cache, error) {
	if f.ref == "" {
		if f.username != "" || f.passwordEnv != "" {
			return nil, usageError{errors.New("--build-cache-username/--build-cache-password-env given without --build-cache")}
		}
		return nil, nil
	}
	r, err := buildcache.RemoteFromEnv(f.ref, f.keyEnv, f.username, f.passwordEnv, f.insecure)
	if err != nil {
		return nil, usageError{err}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("--build-cache: find this go-image binary, which serves as the cache program: %w", err)
	}
	return buildcache.Open(ctx, buildcache.Options{Remote: r, Log: log, Prog: []string{self, "cacheprog"}})
}

// goCache is c as local.Build takes it: nil stays nil.
func goCache(c *buildcache.Cache) local.GoCache {
	if c == nil {
		return nil
	}
	return c
}
