// Package buildcache is a Go build cache for GOCACHEPROG (internal/cacheprog)
// that keeps the outputs on the local disk, where the compiler reads them,
// and shares them through an OCI registry, so a CI run on a fresh machine
// starts with the previous run's compiled packages.
//
// In the registry, a cache is one tag: an OCI manifest whose layers are the
// outputs, one blob each, addressed by the output ID itself (the SHA-256 of
// the bytes, as the go command computes it), and whose config is the index:
// action ID → output ID and size, each entry authenticated with HMAC-SHA256
// under a key the registry never sees.
//
// Trust: the registry is trusted for nothing. Every object read is checked
// against its output ID and size before the go command sees it, and every
// index entry against its MAC; what fails is a miss, never another object.
// A registry writer without the key can delete or withhold entries (the
// build gets slower and the same), or replay a valid entry (which maps its
// own action to its own output), but cannot map an action to another
// output. Whoever holds the key is a trusted writer.
//
// The cache never fails a build over the registry: a registry that cannot
// be read or written is reported once and the build goes on with the local
// cache.
package buildcache

import (
	"context"
	"crypto/hmac"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"dagger/go-image/internal/cacheprog"
	"dagger/go-image/internal/redact"
	"dagger/go-image/internal/safetext"
)

// Defaults and limits, in one place.
const (
	// DefaultTag is the tag of a --build-cache repository given without one.
	DefaultTag = "go-build-cache"
	// DefaultKeyEnv names the environment variable holding the MAC key.
	DefaultKeyEnv = "GOIMAGE_BUILD_CACHE_KEY"
	// MinKeyLen is the shortest key accepted: 16 bytes, 128 bits if random.
	MinKeyLen = 16
	// MaxObjectSize bounds one output, down or up. The go command's largest
	// outputs are package archives, megabytes to tens of megabytes.
	MaxObjectSize = 1 << 30
	// MaxIndexSize bounds the index blob; MaxEntries entries take ~2.5 MB.
	MaxIndexSize = 16 << 20
	// MaxManifestSize bounds the manifest (~130 bytes per output).
	MaxManifestSize = 4 << 20
	// MaxEntries bounds the index; the most recently used are kept. A
	// service of a thousand packages uses about twice as many entries.
	MaxEntries = 20000
	// MaxAge drops entries no build has used for this long.
	MaxAge = 14 * 24 * time.Hour
	// RefreshAfter: an index whose entries were all there is rewritten
	// only when one of the entries used was last marked this long ago.
	RefreshAfter = 24 * time.Hour
	// Jobs bounds the concurrent transfers of prefetch and upload each.
	Jobs = 8
	// MaxPrefetchBytes bounds what is downloaded ahead of the go command's
	// gets; beyond it objects are fetched when asked for.
	MaxPrefetchBytes = 4 << 30
	// IndexTimeout bounds reading the index at start.
	IndexTimeout = 20 * time.Second
	// ObjectTimeout bounds one object's download or upload.
	ObjectTimeout = 2 * time.Minute
	// StallTimeout: a download whose body yields no byte for this long is
	// dead, like an answer without headers (defaultTransport).
	StallTimeout = 20 * time.Second
	// FlushTimeout bounds the uploads still running at the end, and the
	// index write.
	FlushTimeout = 5 * time.Minute
	// LocalMaxAge: local files unused for this long are removed (the go
	// command's own cache uses 5 days too).
	LocalMaxAge = 5 * 24 * time.Hour
)

// The timeouts that tests shorten.
var (
	objectTimeout = ObjectTimeout
	stallTimeout  = StallTimeout
)

// Options configure a Cache.
type Options struct {
	// Dir is the local cache directory (default DefaultDir()).
	Dir string
	// Remote is the registry half; nil keeps the cache local.
	Remote *Remote
	// Log receives the warnings (once each) and the summary.
	Log io.Writer
	// Prog is the command that runs Main, e.g. [/usr/local/bin/go-image
	// cacheprog]: what Serve points GOCACHEPROG at.
	Prog []string
}

// Remote is where the cache is shared.
type Remote struct {
	// Ref is REGISTRY/REPOSITORY[:TAG] (tag default DefaultTag).
	Ref string
	// Key authenticates the index entries (at least MinKeyLen bytes).
	Key []byte
	// Username and Password, when Username is set; else the docker config
	// and credential helpers. PasswordFrom names the password's source
	// for messages ("$CACHE_TOKEN"); the password itself is never printed.
	Username, Password, PasswordFrom string
	// Insecure allows plain HTTP and unverified TLS.
	Insecure bool
	// Transport is the HTTP transport (tests; default: go-containerregistry's).
	Transport http.RoundTripper
	// Keychain replaces authn.DefaultKeychain (tests).
	Keychain authn.Keychain
}

// DefaultDir is the local cache directory: go-image-cache inside GOCACHE
// (as the environment sets it, else the go command's default), so removing
// GOCACHE, or starting CI with an empty one, empties it too.
func DefaultDir() (string, error) {
	gocache := os.Getenv("GOCACHE")
	if gocache == "" || gocache == "off" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no GOCACHE and no user cache directory (%v): set GOCACHE or pass a directory", err)
		}
		gocache = filepath.Join(d, "go-build")
	}
	return filepath.Join(gocache, "go-image-cache"), nil
}

// Cache is a build cache: the local directory, and the registry when
// configured. It serves any number of go commands, one after another or at
// once (cacheprog.Cache).
type Cache struct {
	local  *disk
	remote *registry // nil: local only
	log    io.Writer
	prog   []string
	redact *redact.Redactor

	warned sync.Map // kind → struct{}: each kind of warning is printed once
	stats  counters
	closed atomic.Bool
}

var _ cacheprog.Cache = (*Cache)(nil)

// Open opens the local directory and, with a Remote, starts reading the
// registry's index in the background. Only bad options are errors; an
// unreachable registry is a warning.
func Open(ctx context.Context, o Options) (*Cache, error) {
	dir := o.Dir
	if dir == "" {
		var err error
		if dir, err = DefaultDir(); err != nil {
			return nil, err
		}
	}
	local, err := openDisk(dir)
	if err != nil {
		return nil, err
	}
	c := &Cache{local: local, log: o.Log, prog: o.Prog, redact: &redact.Redactor{}}
	if c.log == nil {
		c.log = io.Discard
	}
	if o.Remote != nil {
		// Before the registry's goroutines, which may warn, start; the
		// credentials of the docker config, and the tokens the registry
		// issues, are added as they are resolved and sent.
		c.redact.Secrets(string(o.Remote.Key))
		c.redact.Credentials(o.Remote.Username, o.Remote.Password)
		r, err := newRegistry(ctx, *o.Remote, c)
		if err != nil {
			return nil, err
		}
		c.remote = r
	}
	return c, nil
}

// Get implements cacheprog.Cache: the local disk, then the registry.
func (c *Cache) Get(ctx context.Context, action ID) (cacheprog.Entry, bool) {
	c.stats.gets.Add(1)
	if e, mac, ok := c.local.getMAC(action); ok {
		c.stats.localHits.Add(1)
		if c.remote != nil {
			// The record is published (signed into the registry's index)
			// only when it carries a valid MAC: anyone who can write the
			// local directory (a shared CI cache) could otherwise map any
			// action to any output for every machine.
			signed := hmac.Equal(mac, entryMAC(c.remote.key, action, e.OutputID, e.Size))
			c.remote.note(action, e.OutputID, e.Size, e.DiskPath, signed)
		}
		return e, true
	}
	if c.remote != nil {
		if e, ok := c.remote.get(ctx, action); ok {
			c.stats.remoteHits.Add(1)
			return e, true
		}
	}
	c.stats.misses.Add(1)
	return cacheprog.Entry{}, false
}

// Put implements cacheprog.Cache: the body goes to the local disk, and is
// queued for upload.
func (c *Cache) Put(ctx context.Context, action, output ID, size int64, body io.Reader) (string, error) {
	path, err := c.local.putObject(output, size, body)
	if err != nil {
		return "", err
	}
	var mac []byte
	if c.remote != nil {
		mac = entryMAC(c.remote.key, action, output, size)
	}
	if err := c.local.putActionMAC(action, output, size, mac); err != nil {
		return "", err
	}
	c.stats.puts.Add(1)
	if c.remote != nil {
		c.remote.note(action, output, size, path, true)
	}
	return path, nil
}

// Close waits for the uploads, writes the registry's index, trims the local
// directory and logs one summary line. It is bounded by FlushTimeout; what
// is not uploaded by then is left out of the index.
func (c *Cache) Close(ctx context.Context) Stats {
	if c.closed.Swap(true) {
		return c.Stats()
	}
	if c.remote != nil {
		start := time.Now()
		ctx, cancel := context.WithTimeout(ctx, FlushTimeout)
		c.remote.flush(ctx)
		cancel()
		c.stats.flush.Store(int64(time.Since(start)))
	}
	c.local.trim(time.Now())
	s := c.Stats()
	fmt.Fprintln(c.log, "go-image: "+s.String())
	return s
}

// warn prints msg once per kind, redacted and on one line.
func (c *Cache) warn(kind, msg string) {
	if _, dup := c.warned.LoadOrStore(kind, struct{}{}); dup {
		return
	}
	// safetext: the message quotes the registry, whose answer may hold a
	// CI runner command ("##[add-mask]…") or invisible characters.
	fmt.Fprintln(c.log, "go-image: build cache: "+safetext.Line(oneLine(c.redact.Apply(msg))))
}

// oneLine keeps a message that may quote a registry's answer on one short
// line of printable characters, so a hostile answer cannot forge log lines
// or drive a terminal. warn cuts after redacting: a secret cut in two
// would no longer match.
func oneLine(s string) string {
	const max = 600
	var b strings.Builder
	for _, r := range flat(s) {
		if b.Len() >= max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// flat is s with its control characters made spaces, uncut: what a
// message quotes, before warn redacts and cuts it.
func flat(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}
