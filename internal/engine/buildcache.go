package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"dagger/go-image/internal/buildcache"
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/elfinfo"
)

// BuildCache shares the builder's Go build cache through an OCI registry
// (with-build-cache): the go command in the builder runs the module's own
// binary as its GOCACHEPROG (internal/buildcache), so a fresh engine with
// empty cache volumes starts from the previous run's compiled packages.
type BuildCache struct {
	// Repository is REGISTRY/REPO[:TAG], as the builder container reaches it.
	Repository string
	// Key authenticates the cache's index entries (at least
	// buildcache.MinKeyLen bytes).
	Key *dagger.Secret
	// Username and Password: both, or neither for the anonymous access.
	Username string
	Password *dagger.Secret
	// Insecure allows plain HTTP and unverified TLS to the registry.
	Insecure bool
	// Prog is the cache program (CacheProg).
	Prog *dagger.File
}

// Where the cache program and the password live in the builder.
const (
	cacheProgPath    = "/usr/local/bin/go-image-cacheprog"
	cachePasswordEnv = "GOIMAGE_BUILD_CACHE_PASSWORD"
)

// Check refuses what would only fail in the builder: a bad repository,
// half the credentials, a short key. It reads the key, never prints it.
func (c *BuildCache) Check(ctx context.Context) error {
	if _, err := buildcache.ParseRef(c.Repository, c.Insecure); err != nil {
		return err
	}
	if (c.Username == "") != (c.Password == nil) {
		return fmt.Errorf("build cache %s: give both username and password, or neither", c.Repository)
	}
	if c.Key == nil {
		return fmt.Errorf("build cache %s: a key is required: it authenticates the cache's index; generate one with `openssl rand -hex 32` and pass it as a secret (--key env:CACHE_KEY)", c.Repository)
	}
	key, err := c.Key.Plaintext(ctx)
	if err != nil {
		return fmt.Errorf("build cache key secret: %w", err)
	}
	if len(key) < buildcache.MinKeyLen {
		return fmt.Errorf("build cache %s: the key is %d bytes, want at least %d: generate one with `openssl rand -hex 32`", c.Repository, len(key), buildcache.MinKeyLen)
	}
	_, err = buildcache.ModuleLine(cacheProgPath, c.Repository, c.Username, cachePasswordEnv, c.Insecure)
	return err
}

// apply makes b's go commands use the cache: the program, the secrets as
// secret variables (never in the command line or the logs), GOCACHEPROG.
func (c *BuildCache) apply(b *dagger.Container) *dagger.Container {
	b = b.WithFile(cacheProgPath, c.Prog, dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithSecretVariable(buildcache.DefaultKeyEnv, c.Key)
	if c.Username != "" {
		b = b.WithSecretVariable(cachePasswordEnv, c.Password)
	}
	var pwEnv string
	if c.Username != "" {
		pwEnv = cachePasswordEnv
	}
	// Check has refused what GOCACHEPROG cannot carry.
	line, _ := buildcache.ModuleLine(cacheProgPath, c.Repository, c.Username, pwEnv, c.Insecure)
	return b.WithEnvVariable("GOCACHEPROG", line)
}

// withoutBuildCache is b without the cache's secrets and GOCACHEPROG, for
// the execs after the compile that need no cache: packUPX's apk runs
// install scripts fetched from the network, and neither it nor upx has any
// use for the cache's key or password.
func withoutBuildCache(b *dagger.Container) *dagger.Container {
	return b.WithoutSecretVariable(buildcache.DefaultKeyEnv).
		WithoutSecretVariable(cachePasswordEnv).
		WithoutEnvVariable("GOCACHEPROG")
}

// CacheProg is the module's own binary as a file for the builder: it runs
// on the engine's platform, as the builder does, and serves as the cache
// program (buildcache.RunIfMode in the module's main package). Nothing is
// compiled for it, which is the point on a fresh engine.
func CacheProg(dag *dagger.Client) (*dagger.File, error) {
	f, err := selfBinary(dag, "go-image-cacheprog")
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	return f, nil
}

// selfBinary is the module's own binary, copied under name into the
// module's working directory, as a file for a builder container, where it
// runs on the engine's platform, as the builder does, whatever the target
// platform. It must be static (the Go SDK builds without cgo): the
// builder's libc is not the runtime's.
func selfBinary(dag *dagger.Client, name string) (*dagger.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the module binary: %w", err)
	}
	in, err := os.Open(self)
	if err != nil {
		return nil, fmt.Errorf("read the module binary: %w", err)
	}
	defer in.Close()
	info, err := elfinfo.Read(in)
	if err != nil {
		return nil, fmt.Errorf("the module binary %s: %w", self, err)
	}
	if !info.Static() {
		return nil, fmt.Errorf("the module binary is dynamically linked (interpreter %q), so it cannot run in an arbitrary builder: build the module with CGO_ENABLED=0", info.Interp)
	}
	dir, err := scratchDir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name)
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return nil, err
	}
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		out.Close()
		return nil, err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return nil, fmt.Errorf("copy the module binary: %w", err)
	}
	if err := out.Close(); err != nil {
		return nil, err
	}
	return dag.CurrentModule().WorkdirFile(path), nil
}
