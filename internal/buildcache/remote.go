package buildcache

// The registry half of a Cache at work: reading the index, answering gets
// from it, prefetching, uploading, and writing the index back (the wire
// format and the HTTP are in registry.go).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"dagger/go-image/internal/cacheprog"
)

// load reads the index, then answers the notes taken meanwhile and starts
// the prefetch. A registry that cannot be read leaves the cache local.
func (r *registry) load() {
	defer close(r.loaded)
	ctx, cancel := context.WithTimeout(r.ctx, IndexTimeout)
	defer cancel()
	tr, err := transport.NewWithContext(ctx, r.tag.Registry, r.auth, r.base, []string{r.tag.Scope(transport.PullScope)})
	if err != nil {
		r.readOff.Store(true)
		r.writeOff.Store(true)
		r.c.warn("read", fmt.Sprintf("registry %s unreachable (%v; used %s): building with the local cache only", r.tag.RegistryStr(), err, r.who))
		return
	}
	r.client = &http.Client{Transport: tr}
	idx, err := r.readIndex(ctx)
	switch {
	case errors.Is(err, errNoIndex):
		r.c.warn("empty", fmt.Sprintf("%s holds no cache yet: this build fills it", r.tag))
	case errors.Is(err, errNotCache):
		r.readOff.Store(true)
		r.writeOff.Store(true)
		r.c.warn("read", fmt.Sprintf("%v: building with the local cache only; give the cache a tag of its own", err))
		return
	case err != nil:
		r.readOff.Store(true)
		r.writeOff.Store(true)
		r.c.warn("read", fmt.Sprintf("read %s: %v (used %s): building with the local cache only", r.tag, err, r.who))
		return
	}
	r.mu.Lock()
	r.digest = idx.digest
	for _, e := range idx.entries {
		r.index[e.Action] = e
	}
	r.present = idx.present
	r.loadedOK = true
	pending := r.pending
	r.pending = nil
	for _, n := range pending {
		r.noteLocked(n)
	}
	r.mu.Unlock()
	r.c.stats.badEntries.Add(int64(idx.bad))
	if idx.bad > 0 {
		r.c.warn("mac", fmt.Sprintf("%s: %d index entries failed their MAC and were dropped: someone without the key wrote to the cache, or the key changed", r.tag, idx.bad))
	}
	r.startPrefetch(idx.entries)
}

func (r *registry) waitLoaded(ctx context.Context) bool {
	select {
	case <-r.loaded:
		return r.loadedOK
	case <-ctx.Done():
		return false
	}
}

// note records that action gave output (a local hit or a put), so the index
// written at the end has it and the registry has its output. An unsigned
// note (a local record without a valid MAC) only refreshes an entry the
// index already has; it never adds one.
func (r *registry) note(action, output ID, size int64, path string, signed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := note{action, output, size, path, signed}
	select {
	case <-r.loaded:
		r.noteLocked(n)
	default:
		r.pending = append(r.pending, n)
	}
}

func (r *registry) noteLocked(n note) {
	if !r.loadedOK || r.writeOff.Load() {
		return
	}
	now := time.Now()
	if e, ok := r.index[n.action]; ok && e.Output == n.output && e.Size == n.size {
		if now.Sub(time.Unix(e.Used, 0)) > RefreshAfter {
			e.Used = now.Unix()
			r.session[n.action] = e
		}
		return
	}
	if !n.signed {
		return
	}
	r.session[n.action] = newEntry(r.key, n.action, n.output, n.size, now)
	r.upload(n.output, n.size, n.path)
}

// get looks action up in the index and downloads its output, verified.
func (r *registry) get(ctx context.Context, action ID) (cacheprog.Entry, bool) {
	if !r.waitLoaded(ctx) || r.readOff.Load() {
		return cacheprog.Entry{}, false
	}
	r.mu.Lock()
	e, ok := r.index[action]
	r.mu.Unlock()
	if !ok {
		return cacheprog.Entry{}, false
	}
	path, err := r.fetch(ctx, e.Output, e.Size)
	if err != nil {
		return cacheprog.Entry{}, false
	}
	if err := r.c.local.putActionMAC(action, e.Output, e.Size, e.MAC); err != nil {
		r.c.warn("local", fmt.Sprintf("record %s in %s: %v", action, r.c.local.dir, err))
	}
	r.mu.Lock()
	if time.Since(time.Unix(e.Used, 0)) > RefreshAfter {
		e.Used = time.Now().Unix()
		r.session[action] = e
	}
	r.mu.Unlock()
	return cacheprog.Entry{OutputID: e.Output, Size: e.Size, DiskPath: path}, true
}

// fetch returns the local path of output, downloading it once however many
// gets and prefetches ask.
func (r *registry) fetch(ctx context.Context, output ID, size int64) (string, error) {
	if p, ok := r.c.local.haveObject(output, size); ok {
		return p, nil
	}
	r.mu.Lock()
	f, ok := r.fetches[output]
	if !ok {
		f = &result{done: make(chan struct{})}
		r.fetches[output] = f
	}
	r.mu.Unlock()
	if !ok {
		f.path, f.err = r.download(ctx, output, size)
		close(f.done)
		if f.err != nil && !errors.Is(f.err, errMismatch) {
			// A cancelled or failed transfer may succeed for the next get.
			r.mu.Lock()
			delete(r.fetches, output)
			r.mu.Unlock()
		}
		return f.path, f.err
	}
	select {
	case <-f.done:
		return f.path, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// emptyOutput is the output ID of an empty output.
var emptyOutput = ID(sha256.Sum256(nil))

// download reads output's blob into the local directory, checking it is
// size bytes hashing to output, and never reading more than size+1.
func (r *registry) download(ctx context.Context, output ID, size int64) (string, error) {
	if size == 0 {
		// Empty outputs are not stored: their content is known.
		if output != emptyOutput {
			return "", r.mismatch(output, "is empty but its output ID is not the empty hash")
		}
		return r.c.local.putObject(output, 0, bytes.NewReader(nil))
	}
	if r.readOff.Load() {
		return "", errReadOff
	}
	outer := ctx
	ctx, cancel := context.WithTimeout(ctx, objectTimeout)
	defer cancel()
	resp, err := r.getBlob(ctx, "sha256:"+output.String())
	if err != nil {
		if !errors.Is(err, errNotFound) && ctx.Err() == nil {
			r.readOff.Store(true)
			r.c.warn("read", fmt.Sprintf("download from %s: %v: the rest of the build uses the local cache only", r.tag, err))
		}
		return "", err
	}
	defer resp.Body.Close()
	if resp.ContentLength > size {
		return "", r.mismatch(output, fmt.Sprintf("is %d bytes, its entry says %d", resp.ContentLength, size))
	}
	body := &watchedBody{r: resp.Body}
	path, err := r.c.local.putObject(output, size, body)
	if errors.Is(err, errMismatch) {
		return "", r.mismatch(output, "does not hash to its output ID, or is not the size its entry says")
	}
	if err != nil {
		if berr := body.failed(); berr != nil && outer.Err() == nil {
			// A registry that stalls or breaks a body mid-way would cost
			// every get the full wait, one object after another.
			r.readOff.Store(true)
			why := berr.Error()
			if errors.Is(berr, context.DeadlineExceeded) {
				why = fmt.Sprintf("not done after %s", objectTimeout)
			}
			r.c.warn("read", fmt.Sprintf("download sha256:%s from %s: %s: the rest of the build uses the local cache only", output, r.tag, why))
		}
		return "", err
	}
	r.c.stats.downloads.Add(1)
	r.c.stats.downloadBytes.Add(size)
	return path, nil
}

var errReadOff = errors.New("registry reads are off")

// mismatch records a poisoned or damaged object: a miss, counted, and left
// out of the index this run writes.
func (r *registry) mismatch(output ID, why string) error {
	r.c.stats.corrupt.Add(1)
	r.mu.Lock()
	r.corrupt[output] = true
	delete(r.present, output)
	r.mu.Unlock()
	r.c.warn("corrupt", fmt.Sprintf("%s: object sha256:%s %s: treated as a miss (the go command never sees it); more such objects are only counted", r.tag, output, why))
	return errMismatch
}

// startPrefetch downloads the indexed outputs the local directory lacks,
// most recently used first, Jobs at a time, so the go command's gets find
// them on disk: a cold build asks for hundreds of outputs, one get at a time
// per build worker, and a round trip each would dominate it.
func (r *registry) startPrefetch(entries []entry) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].Used > entries[j].Used })
	seen := map[ID]bool{}
	var budget int64 = MaxPrefetchBytes
	var todo []entry
	for _, e := range entries {
		if seen[e.Output] || e.Size > budget {
			continue
		}
		seen[e.Output] = true
		if _, ok := r.c.local.haveObject(e.Output, e.Size); ok {
			continue
		}
		budget -= e.Size
		todo = append(todo, e)
	}
	work := make(chan entry)
	for range min(Jobs, len(todo)) {
		r.prefetch.Add(1)
		go func() {
			defer r.prefetch.Done()
			for e := range work {
				if r.readOff.Load() {
					continue
				}
				_, _ = r.fetch(r.ctx, e.Output, e.Size)
			}
		}()
	}
	go func() {
		defer close(work)
		for _, e := range todo {
			select {
			case work <- e:
			case <-r.ctx.Done():
				return
			}
		}
	}()
}

// upload queues output for upload, once, unless the registry has it.
// Called with r.mu held.
func (r *registry) upload(output ID, size int64, path string) {
	if size == 0 || r.uploads[output] || r.corrupt[output] {
		return
	}
	if _, ok := r.present[output]; ok {
		return
	}
	if size > MaxObjectSize {
		return // left out of the index: merge keeps only present outputs
	}
	r.uploads[output] = true
	r.upWG.Add(1)
	go func() {
		defer r.upWG.Done()
		select {
		case r.upSem <- struct{}{}:
		case <-r.ctx.Done():
			return
		}
		defer func() { <-r.upSem }()
		if r.writeOff.Load() {
			return
		}
		open := func() (io.ReadCloser, error) { return openVerified(path, output, size) }
		corruptLocal := func(err error) {
			// The local file is not the object (a shared cache directory
			// with a planted file): not uploaded, and left out of the index.
			r.c.stats.corrupt.Add(1)
			r.mu.Lock()
			r.corrupt[output] = true
			r.mu.Unlock()
			r.c.warn("corrupt-local", fmt.Sprintf("local object sha256:%s: %v: not uploaded; remove %s if it persists", output, err, r.c.local.dir))
		}
		f, err := open()
		if err != nil {
			corruptLocal(err)
			return
		}
		f.Close()
		ctx, cancel := context.WithTimeout(r.ctx, ObjectTimeout)
		defer cancel()
		l := &blobLayer{digest: v1.Hash{Algorithm: "sha256", Hex: output.String()}, size: size, mt: ObjectMediaType, open: open}
		if err := r.pusher.Upload(ctx, r.tag.Context(), l); err != nil {
			if errors.Is(err, errMismatch) {
				// The upload's own open found the file changed: this
				// object's fault, not the registry's, so the others
				// still go up.
				corruptLocal(err)
				return
			}
			if r.ctx.Err() == nil {
				r.writeOff.Store(true)
				r.c.warn("write", fmt.Sprintf("upload to %s: %v (used %s): this build's outputs stay local; give these credentials push access to the repository", r.tag, err, r.who))
			}
			return
		}
		r.c.stats.uploads.Add(1)
		r.c.stats.uploadBytes.Add(size)
		r.mu.Lock()
		r.present[output] = size
		r.mu.Unlock()
	}()
}

// flush stops the prefetch, waits for the uploads and writes the index:
// the entries read, merged with whatever another run wrote meanwhile, and
// this run's. It writes nothing when the index could not be read (it
// would drop every other run's entries) or nothing changed.
func (r *registry) flush(ctx context.Context) {
	defer r.cancel()
	select {
	case <-r.loaded:
	case <-ctx.Done():
		return
	}
	done := make(chan struct{})
	go func() { r.upWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.c.warn("flush", fmt.Sprintf("uploads to %s still running after %s: left out of the index", r.tag, FlushTimeout))
	}
	// The prefetch is not waited for: what it has not fetched, nobody needs.
	r.cancel()
	r.prefetch.Wait()
	r.mu.Lock()
	changed := len(r.session) > 0 || len(r.corrupt) > 0
	r.c.stats.indexEntries.Store(int64(len(r.index)))
	r.mu.Unlock()
	if !r.loadedOK || r.writeOff.Load() || !changed {
		return
	}
	if err := r.writeIndex(ctx); err != nil {
		r.c.warn("write", fmt.Sprintf("write the index of %s: %v (used %s): this build's entries are not shared", r.tag, err, r.who))
	}
}

func (r *registry) writeIndex(ctx context.Context) error {
	// Another run may have written since the read: merge its entries
	// rather than drop them (last writer wins only within one action).
	latest, err := r.readIndex(ctx)
	if err != nil && !errors.Is(err, errNoIndex) {
		return err
	}
	r.mu.Lock()
	read := make([]entry, 0, len(r.index))
	for _, e := range r.index {
		read = append(read, e)
	}
	session := make([]entry, 0, len(r.session))
	for _, e := range r.session {
		session = append(session, e)
	}
	present := map[ID]int64{}
	for o, s := range r.present {
		present[o] = s
	}
	if latest.digest != r.digest {
		for o, s := range latest.present {
			present[o] = s
		}
	}
	corrupt := map[ID]bool{}
	for o := range r.corrupt {
		corrupt[o] = true
	}
	r.mu.Unlock()
	keep := func(e entry) bool {
		if corrupt[e.Output] {
			return false
		}
		if e.Size == 0 {
			return e.Output == emptyOutput
		}
		s, ok := present[e.Output]
		return ok && s == e.Size
	}
	var others []entry
	if latest.digest != r.digest {
		others = latest.entries
	}
	entries := merge(time.Now(), keep, read, others, session)
	cfg, err := encodeIndex(entries)
	if err != nil {
		return err
	}
	cfgDigest, cfgSize, _ := v1.SHA256(bytes.NewReader(cfg))
	if err := r.pusher.Upload(ctx, r.tag.Context(), &blobLayer{digest: cfgDigest, size: cfgSize, mt: IndexMediaType, open: bytesOpener(cfg)}); err != nil {
		return err
	}
	m := manifest{SchemaVersion: 2, MediaType: string(types.OCIManifestSchema1),
		Config: descriptor{MediaType: IndexMediaType, Digest: cfgDigest.String(), Size: cfgSize}}
	seen := map[ID]bool{}
	for _, e := range entries {
		if e.Size > 0 && !seen[e.Output] {
			seen[e.Output] = true
			m.Layers = append(m.Layers, descriptor{MediaType: ObjectMediaType, Digest: "sha256:" + e.Output.String(), Size: e.Size})
		}
	}
	sort.Slice(m.Layers, func(i, j int) bool { return m.Layers[i].Digest < m.Layers[j].Digest })
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if len(raw) > MaxManifestSize {
		return fmt.Errorf("manifest of %d bytes, over the %d limit", len(raw), MaxManifestSize)
	}
	if err := r.pusher.Put(ctx, r.tag, rawManifest{raw}); err != nil {
		return err
	}
	r.c.stats.indexWritten.Store(true)
	r.c.stats.indexEntries.Store(int64(len(entries)))
	return nil
}

// watchedBody is a blob's body that remembers its read error, which is
// the registry's fault (putObject's other errors are the local disk's); a
// stall is one (stallBody).
type watchedBody struct {
	r io.Reader

	mu  sync.Mutex
	err error
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.mu.Lock()
		b.err = err
		b.mu.Unlock()
	}
	return n, err
}

func (b *watchedBody) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}
