package buildcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"dagger/go-image/internal/cacheprog"
	"dagger/go-image/internal/redact"
)

// Media types of the cache's manifest parts. A tag whose manifest has
// another config type is not a build cache, and is never overwritten.
const (
	IndexMediaType  = "application/vnd.go-image.buildcache.index.v1+json"
	ObjectMediaType = "application/vnd.go-image.buildcache.object.v1"
)

// ParseRef parses REGISTRY/REPOSITORY[:TAG], the registry written out (no
// implied Docker Hub) and the tag defaulting to DefaultTag.
func ParseRef(ref string, insecure bool) (name.Tag, error) {
	ref = strings.TrimSpace(ref)
	if strings.Contains(ref, "@") {
		return name.Tag{}, fmt.Errorf("build cache %q: names a digest; a cache is a tag that each build rewrites: give REGISTRY/REPOSITORY[:TAG]", ref)
	}
	if last := ref[strings.LastIndex(ref, "/")+1:]; !strings.Contains(last, ":") {
		ref += ":" + DefaultTag
	}
	opts := []name.Option{name.StrictValidation}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	t, err := name.NewTag(ref, opts...)
	if err != nil {
		return name.Tag{}, fmt.Errorf("build cache %q: %v: want REGISTRY/REPOSITORY[:TAG] with the registry written out, e.g. ghcr.io/acme/go-cache", ref, err)
	}
	return t, nil
}

// registry is the shared half of a Cache.
type registry struct {
	c      *Cache
	tag    name.Tag
	key    []byte
	auth   authn.Authenticator
	who    string // the credentials, described without their values
	base   http.RoundTripper
	pusher *remote.Pusher

	ctx    context.Context // until flush: the prefetch and uploads
	cancel context.CancelFunc

	loaded   chan struct{} // closed when the index is read, or failed to be
	loadedOK bool          // the index was read (or the tag is empty); set before loaded closes
	client   *http.Client  // reads; set before loaded closes

	readOff, writeOff atomic.Bool

	mu       sync.Mutex
	digest   string         // manifest digest of the index read
	index    map[ID]entry   // verified entries read
	present  map[ID]int64   // outputs the registry holds: the manifest's layers and our uploads
	session  map[ID]entry   // entries this run added or refreshed
	pending  []note         // notes taken before the index was read
	fetches  map[ID]*result // downloads, one per output
	uploads  map[ID]bool    // outputs queued or uploaded
	corrupt  map[ID]bool    // outputs that failed verification
	upSem    chan struct{}
	upWG     sync.WaitGroup
	prefetch sync.WaitGroup
}

type note struct {
	action, output ID
	size           int64
	path           string
	signed         bool // the go command's put, or a local record with a valid MAC
}

type result struct {
	done chan struct{}
	path string
	err  error
}

func newRegistry(ctx context.Context, o Remote, c *Cache) (*registry, error) {
	tag, err := ParseRef(o.Ref, o.Insecure)
	if err != nil {
		return nil, err
	}
	if len(o.Key) < MinKeyLen {
		return nil, fmt.Errorf("build cache %s: the MAC key is %d bytes, want at least %d: generate one with `openssl rand -hex 32` and keep it as a CI secret", tag, len(o.Key), MinKeyLen)
	}
	auth, who, err := authenticator(ctx, o, tag.Context())
	if err != nil {
		return nil, err
	}
	base := o.Transport
	if base == nil {
		base = defaultTransport(o.Insecure)
	}
	// Beneath the authenticating transports, so it sees the headers they
	// add: a token server's bearer token is a credential the registry
	// could echo back too.
	base = &recordAuth{next: base, redact: c.redact}
	if cfg, err := auth.Authorization(); err == nil && cfg != nil {
		c.redact.Secrets(cfg.IdentityToken, cfg.RegistryToken)
		c.redact.Credentials(cfg.Username, cfg.Password)
		if cfg.Auth != "" {
			c.redact.Authorization("Basic " + cfg.Auth)
		}
	}
	pusher, err := remote.NewPusher(remote.WithAuth(auth), remote.WithTransport(base), remote.WithUserAgent("go-image"),
		remote.WithRetryBackoff(remote.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Steps: 3}))
	if err != nil {
		return nil, err
	}
	r := &registry{
		c: c, tag: tag, key: append([]byte(nil), o.Key...), auth: auth, who: who, base: base, pusher: pusher,
		loaded: make(chan struct{}), index: map[ID]entry{}, present: map[ID]int64{}, session: map[ID]entry{},
		fetches: map[ID]*result{}, uploads: map[ID]bool{}, corrupt: map[ID]bool{}, upSem: make(chan struct{}, Jobs),
	}
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go r.load()
	return r, nil
}

func authenticator(ctx context.Context, o Remote, repo name.Repository) (authn.Authenticator, string, error) {
	if o.Username != "" {
		if o.Password == "" {
			return nil, "", fmt.Errorf("build cache %s: username %q given but the password (from %s) is empty: set it, or drop the username to use the docker config", repo, o.Username, o.PasswordFrom)
		}
		return &authn.Basic{Username: o.Username, Password: o.Password}, fmt.Sprintf("username %q, password from %s", o.Username, o.PasswordFrom), nil
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	auth, err := authn.Resolve(ctx, kc, repo)
	if err != nil {
		return nil, "", fmt.Errorf("build cache %s: read credentials from the docker config / credential helpers: %w: fix the helper, or pass a username and password", repo, err)
	}
	if auth == authn.Anonymous {
		return auth, "anonymous", nil
	}
	return auth, "credentials from the docker config", nil
}

// defaultTransport is go-containerregistry's, with the waits bounded: a
// registry that stops answering costs a build seconds, not minutes.
func defaultTransport(insecure bool) http.RoundTripper {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 20 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	if insecure {
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{}
		}
		t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only with --insecure
	}
	return t
}

// The manifest, as much of the OCI image manifest as the cache uses.
type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type readIndex struct {
	digest  string
	entries []entry
	bad     int
	present map[ID]int64
}

var (
	errNoIndex  = errors.New("no index")
	errNotFound = errors.New("not found")
	errNotCache = errors.New("not a go-image build cache")
)

// readIndex reads the tag's manifest and its index blob, both bounded and
// the blob verified; the entries are those whose MAC checks out.
func (r *registry) readIndex(ctx context.Context) (readIndex, error) {
	raw, err := r.getManifest(ctx)
	if errors.Is(err, errNotFound) {
		return readIndex{present: map[ID]int64{}}, errNoIndex
	}
	if err != nil {
		return readIndex{}, err
	}
	d := sha256.Sum256(raw)
	idx := readIndex{digest: "sha256:" + ID(d).String(), present: map[ID]int64{}}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return idx, fmt.Errorf("%w: %s: manifest: %v", errNotCache, r.tag, err)
	}
	if m.Config.MediaType != IndexMediaType {
		return idx, fmt.Errorf("%w: %s holds a manifest with config %q", errNotCache, r.tag, flat(m.Config.MediaType))
	}
	if m.Config.Size < 0 || m.Config.Size > MaxIndexSize {
		return idx, fmt.Errorf("%s: index of %d bytes, over the %d limit", r.tag, m.Config.Size, MaxIndexSize)
	}
	for _, l := range m.Layers {
		o, ok := strings.CutPrefix(l.Digest, "sha256:")
		id, err := cacheprog.ParseID(o)
		if !ok || err != nil || l.Size <= 0 || l.Size > MaxObjectSize {
			continue
		}
		idx.present[id] = l.Size
	}
	resp, err := r.getBlob(ctx, m.Config.Digest)
	if err != nil {
		return idx, fmt.Errorf("%s: index blob: %w", r.tag, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, m.Config.Size+1))
	if err != nil {
		return idx, fmt.Errorf("%s: index blob: %w", r.tag, err)
	}
	if sum := sha256.Sum256(b); int64(len(b)) != m.Config.Size || "sha256:"+ID(sum).String() != m.Config.Digest {
		r.c.stats.corrupt.Add(1)
		r.c.warn("corrupt-index", fmt.Sprintf("%s: the index blob does not match its digest or size: read as empty", r.tag))
		return readIndex{digest: idx.digest, present: map[ID]int64{}}, nil
	}
	entries, bad, err := decodeIndex(b, r.key)
	if err != nil {
		// A malformed index (or one of another version) is as good as none.
		r.c.warn("bad-index", fmt.Sprintf("%s: %v: read as empty", r.tag, err))
		return readIndex{digest: idx.digest, present: map[ID]int64{}}, nil
	}
	idx.entries, idx.bad = entries, bad
	return idx, nil
}

func (r *registry) url(kind, ref string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", r.tag.Scheme(), r.tag.RegistryStr(), r.tag.RepositoryStr(), kind, ref)
}

func (r *registry) getManifest(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url("manifests", r.tag.TagStr()), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(types.OCIManifestSchema1))
	resp, err := r.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > MaxManifestSize {
		return nil, fmt.Errorf("manifest of %d bytes, over the %d limit", resp.ContentLength, MaxManifestSize)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("manifest over the %d limit", MaxManifestSize)
	}
	return b, nil
}

// getBlob starts a blob's download; the caller bounds the read.
func (r *registry) getBlob(ctx context.Context, digest string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url("blobs", digest), nil)
	if err != nil {
		return nil, err
	}
	return r.do(req)
}

// do sends req; a 404 is errNotFound, another non-200 answer an error that
// quotes at most a line of the registry's answer.
func (r *registry) do(req *http.Request) (*http.Response, error) {
	if r.client == nil {
		return nil, errReadOff
	}
	ctx, cancel := context.WithCancel(req.Context())
	resp, err := r.client.Do(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		resp.Body = newStallBody(resp.Body, cancel)
		return resp, nil
	}
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, errNotFound
	}
	// Much more than warn shows (oneLine), so that a credential the
	// registry echoes is whole when redacted, and cut only after.
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	hint := ""
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		hint = " (the registry rejected the credentials: check the username and password/token, or `docker login`)"
	case http.StatusForbidden:
		hint = " (the credentials may not read this repository: grant them pull and push on it)"
	}
	return nil, fmt.Errorf("%s %s: HTTP %d%s: %s", req.Method, req.URL.Path, resp.StatusCode, hint, flat(string(msg)))
}

// blobLayer is a blob to upload, as go-containerregistry takes one.
type blobLayer struct {
	digest v1.Hash
	size   int64
	mt     types.MediaType
	open   func() (io.ReadCloser, error)
}

func (l *blobLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *blobLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)   { return l.open() }
func (l *blobLayer) Uncompressed() (io.ReadCloser, error) { return l.open() }
func (l *blobLayer) Size() (int64, error)                 { return l.size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error)  { return l.mt, nil }

func bytesOpener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// rawManifest is a manifest to put as it is.
type rawManifest struct{ b []byte }

func (m rawManifest) RawManifest() ([]byte, error)        { return m.b, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// recordAuth adds the credential of every Authorization header sent to the
// redactor before the request leaves.
type recordAuth struct {
	next   http.RoundTripper
	redact *redact.Redactor
}

func (t *recordAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	for _, h := range req.Header.Values("Authorization") {
		t.redact.Authorization(h)
	}
	return t.next.RoundTrip(req)
}

var errStalled = errors.New("stalled")

// stallBody ends a response (cancel) whose body yields no byte for
// stallTimeout: headers are bounded by the transport, and a registry that
// drips or stops a body would otherwise hold a get, or the go command's
// "close", for the whole operation's timeout.
type stallBody struct {
	rc      io.ReadCloser
	cancel  context.CancelFunc
	timer   *time.Timer
	stalled atomic.Bool
}

func newStallBody(rc io.ReadCloser, cancel context.CancelFunc) *stallBody {
	b := &stallBody{rc: rc, cancel: cancel}
	b.timer = time.AfterFunc(stallTimeout, func() { b.stalled.Store(true); cancel() })
	return b
}

func (b *stallBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(stallTimeout)
	}
	if err != nil && err != io.EOF && b.stalled.Load() {
		err = fmt.Errorf("no byte for %s: %w", stallTimeout, errStalled)
	}
	return n, err
}

func (b *stallBody) Close() error {
	b.timer.Stop()
	b.cancel()
	return b.rc.Close()
}
