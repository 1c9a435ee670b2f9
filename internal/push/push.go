// Package push decides how an image that passed every gate reaches its
// registries: blobs, then the manifest by digest, then tags — so a tag never
// names an image whose parts are not all in the registry — with bounded
// retries of transient failures and errors that say which credentials were
// tried (never their values) and what to do.
package push

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"dagger/go-image/internal/limits"
)

// Artifact is what can be pushed: a v1.Image or a v1.ImageIndex.
type Artifact interface {
	Digest() (v1.Hash, error)
	Size() (int64, error)
	MediaType() (types.MediaType, error)
	RawManifest() ([]byte, error)
}

// Credentials are an explicit username and password. PasswordFrom says where
// the password came from ("$TOKEN", "a Dagger secret") so errors can name it
// without ever printing it.
type Credentials struct {
	Username     string
	Password     string
	PasswordFrom string
}

// DefaultBackoff bounds retries of one request to five tries over about 7.5 s
// (0.5 + 1 + 2 + 4): long enough for a registry's rolling restart or a load
// balancer hiccup, short enough that a CI job fails while someone watches.
var DefaultBackoff = remote.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 5}

// retryStatusCodes are the responses that mean "try again": timeouts, rate
// limits and server-side failures. 4xx auth and not-found errors are final.
var retryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests,
	http.StatusInternalServerError, http.StatusBadGateway,
	http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

// Options configure a push.
type Options struct {
	// Credentials, when Username is set, are used for every address; else
	// go-containerregistry's default keychain (docker config, credential
	// helpers) is asked per registry, falling back to anonymous.
	Credentials Credentials
	// Insecure allows plain HTTP (and unverified TLS) to every registry.
	// Loopback and RFC 1918 registries use HTTP without it.
	Insecure bool
	// Transport is the HTTP transport (default remote.DefaultTransport).
	Transport http.RoundTripper
	// Backoff overrides DefaultBackoff (tests use a fast one).
	Backoff *remote.Backoff
	// Keychain overrides authn.DefaultKeychain (tests).
	Keychain authn.Keychain
	// Log receives one progress line per step.
	Log io.Writer
}

// Result is what was pushed.
type Result struct {
	Digest v1.Hash
	// References are repo@sha256:… for every repository pushed to, in
	// address order; the first is the canonical one to deploy.
	References []string
	// Tags are the tags that now point at Digest.
	Tags []string
}

// Ref is the first pushed reference, repo@sha256:….
func (r Result) Ref() string {
	if len(r.References) == 0 {
		return ""
	}
	return r.References[0]
}

// ParseAddresses parses REGISTRY/REPO:TAG addresses. A digest address is
// rejected: the digest is the result of the push, not an input.
func ParseAddresses(addrs []string, insecure bool) ([]name.Tag, error) {
	if len(addrs) == 0 {
		return nil, errors.New("no address: give at least one REGISTRY/REPO:TAG, e.g. ghcr.io/acme/api:1.2.3")
	}
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	var tags []name.Tag
	for _, a := range addrs {
		if strings.Contains(a, "@") {
			return nil, fmt.Errorf("address %q: names a digest; give a tag instead (REGISTRY/REPO:TAG): the digest is what the push returns", a)
		}
		t, err := name.NewTag(strings.TrimSpace(a), append(opts, name.StrictValidation)...)
		if err != nil {
			// StrictValidation refuses an implicit registry or tag, which would
			// silently push to Docker Hub or to :latest.
			return nil, fmt.Errorf("address %q: %v: want REGISTRY/REPO:TAG with an explicit registry and tag, e.g. ghcr.io/acme/api:1.2.3", a, err)
		}
		tags = append(tags, t)
	}
	return tags, nil
}

// Push writes a to every address: for each repository, the blobs and the
// manifest by digest; only when all repositories hold the complete image are
// the tags written. A failure before that leaves every tag where it was.
func Push(ctx context.Context, a Artifact, addrs []string, o Options) (Result, error) {
	tags, err := ParseAddresses(addrs, o.Insecure)
	if err != nil {
		return Result{}, err
	}
	res, err := upload(ctx, a, tags, o)
	if err != nil {
		return res, err
	}
	res.Tags, err = tag(ctx, a, tags, o)
	return res, err
}

// Tag points every address's tag at a, which Upload already wrote: the
// last step of a push, split out so that a release can sign between the
// upload and the tags. It returns the tags written, in order, even on an
// error.
func Tag(ctx context.Context, a Artifact, addrs []string, o Options) ([]string, error) {
	tags, err := ParseAddresses(addrs, o.Insecure)
	if err != nil {
		return nil, err
	}
	return tag(ctx, a, tags, o)
}

func tag(ctx context.Context, a Artifact, tags []name.Tag, o Options) ([]string, error) {
	d, err := a.Digest()
	if err != nil {
		return nil, err
	}
	var done []string
	for _, t := range tags {
		opts, who, err := o.remoteOptions(ctx, t.Context())
		if err != nil {
			return done, o.redact(err)
		}
		if err := remote.Tag(t, a, opts...); err != nil {
			return done, o.redact(explain(err, "tag", t.String(), t.Context(), who))
		}
		fmt.Fprintf(o.log(), "go-image: tagged %s -> %s\n", t, d)
		done = append(done, t.String())
	}
	return done, nil
}

// Remote returns the go-containerregistry options for one repository (the
// credentials, transport and retries of a push), for code that reads from
// the registry it pushed to, such as existing signatures.
func (o Options) Remote(ctx context.Context, repo name.Repository) ([]remote.Option, error) {
	opts, _, err := o.remoteOptions(ctx, repo)
	return opts, o.redact(err)
}

// Explain turns an error of a registry operation (op: "read", "push", …)
// on ref into its cause and fix, naming the credentials used, never their
// values.
func (o Options) Explain(err error, op, ref string, repo name.Repository) error {
	if err == nil {
		return nil
	}
	_, who, werr := o.authenticator(context.Background(), repo)
	if werr != nil {
		who = "no usable credentials"
	}
	return o.redact(explain(err, op, ref, repo, who))
}

// Upload writes a by digest to the repository of every address, without
// touching any tag: for artifacts found through their subject, such as an
// SBOM referrer.
func Upload(ctx context.Context, a Artifact, addrs []string, o Options) (Result, error) {
	tags, err := ParseAddresses(addrs, o.Insecure)
	if err != nil {
		return Result{}, err
	}
	return upload(ctx, a, tags, o)
}

func upload(ctx context.Context, a Artifact, tags []name.Tag, o Options) (Result, error) {
	d, err := a.Digest()
	if err != nil {
		return Result{}, fmt.Errorf("digest of the image to push: %w", err)
	}
	res := Result{Digest: d}
	if err := distributable(a); err != nil {
		return res, err
	}
	seen := map[string]bool{}
	for _, t := range tags {
		repo := t.Context()
		if seen[repo.String()] {
			continue
		}
		seen[repo.String()] = true
		ref := repo.Digest(d.String())
		opts, who, err := o.remoteOptions(ctx, repo)
		if err != nil {
			return res, o.redact(err)
		}
		fmt.Fprintf(o.log(), "go-image: push %s (%s)\n", ref, who)
		// remote.Push is remote.Write for an image and remote.WriteIndex for
		// an index: children and blobs first, the manifest last.
		if err := remote.Push(ref, a, opts...); err != nil {
			return res, o.redact(explain(err, "push", ref.String(), repo, who))
		}
		res.References = append(res.References, ref.String())
	}
	return res, nil
}

func (o Options) log() io.Writer {
	if o.Log == nil {
		return io.Discard
	}
	return o.Log
}

// remoteOptions returns the options for one repository and a description of
// the credentials used, safe to print.
func (o Options) remoteOptions(ctx context.Context, repo name.Repository) ([]remote.Option, string, error) {
	backoff := DefaultBackoff
	if o.Backoff != nil {
		backoff = *o.Backoff
	}
	tr := o.Transport
	if tr == nil {
		tr = remote.DefaultTransport
	}
	if o.Insecure {
		tr = insecureTransport(tr)
	}
	tr = boundedTransport{rt: tr, lim: limits.From(ctx)}
	tr = &redactingTransport{inner: tr, r: newRedactor(o.Credentials)}
	auth, who, err := o.authenticator(ctx, repo)
	if err != nil {
		return nil, "", err
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(auth),
		remote.WithTransport(tr),
		remote.WithRetryBackoff(backoff),
		remote.WithRetryStatusCodes(retryStatusCodes...),
		remote.WithRetryPredicate(Transient),
		remote.WithUserAgent("go-image"),
	}, who, nil
}

func (o Options) authenticator(ctx context.Context, repo name.Repository) (authn.Authenticator, string, error) {
	c := o.Credentials
	if c.Username != "" {
		from := c.PasswordFrom
		if from == "" {
			from = "the given password"
		}
		if c.Password == "" {
			return nil, "", fmt.Errorf("registry %s: username %q given but the password (from %s) is empty: set it, or drop the username to use the docker config", repo.RegistryStr(), c.Username, from)
		}
		return &authn.Basic{Username: c.Username, Password: c.Password},
			fmt.Sprintf("username %q, password from %s", c.Username, from), nil
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	auth, err := authn.Resolve(ctx, kc, repo)
	if err != nil {
		return nil, "", fmt.Errorf("registry %s: read credentials from the docker config / credential helpers: %w: fix the helper, or pass --username and --password-env", repo.RegistryStr(), err)
	}
	if auth == authn.Anonymous {
		return auth, "anonymous: no credentials for " + repo.RegistryStr() + " in the docker config", nil
	}
	return auth, "credentials for " + repo.RegistryStr() + " from the docker config / credential helper", nil
}

// Transient reports whether err is worth retrying: a retryable registry
// status, a reset or cut connection, or a network timeout. A refused
// connection or DNS failure is a wrong address, not a blip, and fails fast.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.Temporary()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// explain turns a registry failure into the cause and the fix.
func explain(err error, op, ref string, repo name.Repository, who string) error {
	reg := repo.RegistryStr()
	var te *transport.Error
	if errors.As(err, &te) {
		codes := map[transport.ErrorCode]bool{}
		for _, d := range te.Errors {
			codes[d.Code] = true
		}
		switch {
		case te.StatusCode == http.StatusUnauthorized || codes[transport.UnauthorizedErrorCode]:
			return fmt.Errorf("%s %s: %s rejected the credentials (401 unauthorized; used %s): check the username and password/token, or run `docker login %s`: %w", op, ref, reg, who, reg, err)
		case te.StatusCode == http.StatusForbidden || codes[transport.DeniedErrorCode]:
			return fmt.Errorf("%s %s: %s denied push to %s (403 forbidden; used %s): give these credentials write access to the repository, or use a token with push scope: %w", op, ref, reg, repo.RepositoryStr(), who, err)
		case codes[transport.NameUnknownErrorCode] || te.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s %s: repository %s unknown to %s (404): create it first (some registries, e.g. ECR, do not create repositories on push) or fix the address: %w", op, ref, repo.RepositoryStr(), reg, err)
		case te.Temporary():
			return fmt.Errorf("%s %s: %s kept failing (HTTP %d) after retries: the registry is unhealthy; try again later: %w", op, ref, reg, te.StatusCode, err)
		}
		return fmt.Errorf("%s %s: %s answered HTTP %d: %w", op, ref, reg, te.StatusCode, err)
	}
	msg := err.Error()
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s %s: %w", op, ref, err)
	case errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dnsErr):
		return fmt.Errorf("%s %s: registry %s unreachable: %w: check the address and that the registry is running and reachable from here", op, ref, reg, err)
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%s %s: registry %s speaks plain HTTP: add --insecure if that is intended: %w", op, ref, reg, err)
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:"):
		return fmt.Errorf("%s %s: TLS with %s failed: %w: install the registry's CA, or add --insecure for a test registry", op, ref, reg, err)
	case Transient(err):
		return fmt.Errorf("%s %s: connection to %s kept failing after retries: %w: check the network path to the registry", op, ref, reg, err)
	}
	return fmt.Errorf("%s %s: %w", op, ref, err)
}

// redact removes the password, in every form secretForms knows, from an
// error message, in case any layer (a proxy, a registry echoing a header)
// put it there. Error bodies are already redacted by the transport
// (redactingTransport); this catches what reaches an error another way.
func (o Options) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := newRedactor(o.Credentials).Apply(err.Error())
	if msg == err.Error() {
		return err
	}
	return redactedError{msg: msg, err: err}
}

// insecureTransport skips TLS verification, for test registries with
// self-signed certificates; plain HTTP comes from name.Insecure.
func insecureTransport(tr http.RoundTripper) http.RoundTripper {
	t, ok := tr.(*http.Transport)
	if !ok {
		return tr
	}
	t = t.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only with --insecure
	return t
}

// Loopback reports whether a registry host (host or host:port) is this
// machine's loopback. Inside a Dagger function, loopback is the function's
// own container, so the module refuses such an address unless it is given
// the registry as a service (DialVia).
func Loopback(registry string) bool {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]") // [::1] without a port
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DialVia returns a transport that reaches registry (host:port, as the
// address names it) at endpoint instead, and every other host directly.
// Requests keep the address's host, so the registry sees the name it was
// pushed to. The Dagger module uses it to push through a service tunnel,
// e.g. a registry on the caller's localhost:5000, with endpoint pinned to
// the tunnel's IP (endpoint.Pin).
func DialVia(registry, endpoint string) http.RoundTripper {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second}).DialContext
	}
	t.DialContext = viaDial(registry, endpoint, dial)
	return t
}

func viaDial(registry, endpoint string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == registry {
			addr = endpoint
		}
		return dial(ctx, network, addr)
	}
}
