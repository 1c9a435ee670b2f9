package imagefs

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/blob"
	"dagger/go-image/internal/limits"
)

// Layers are an image's layers as every reader of their contents reads
// them: with their diff IDs from the config, each read checked against its
// diff ID, and the image's bounds (entries, uncompressed bytes) counted
// across all reads of one Layers. Open a new Layers for each pass over the
// image.
type Layers struct {
	img     v1.Image
	layers  []v1.Layer
	diffIDs []v1.Hash
	lim     limits.Limits
	name    string
	entries int
	names   int64
	bytes   int64
}

// OpenLayers returns img's layers, refusing a config whose diff IDs do not
// match the layers one for one, and more layers than the limit.
func OpenLayers(ctx context.Context, img v1.Image) (*Layers, error) {
	lim := limits.From(ctx)
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("read layers: %w", err)
	}
	if len(ls) > lim.Layers {
		return nil, &limits.Error{Kind: limits.Layers, What: "image", Limit: int64(lim.Layers), Got: int64(len(ls))}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(ls) {
		return nil, fmt.Errorf("the config lists %d diff IDs for %d layers: the image is corrupt; rebuild it", len(cf.RootFS.DiffIDs), len(ls))
	}
	return &Layers{img: img, layers: ls, diffIDs: cf.RootFS.DiffIDs, lim: lim}, nil
}

// Len is the number of layers.
func (ls *Layers) Len() int { return len(ls.layers) }

// Layer returns layer i.
func (ls *Layers) Layer(i int) v1.Layer { return ls.layers[i] }

// what names layer i in errors: "layer 2 (sha256:…)", by diff ID, which
// every source knows without reading.
func (ls *Layers) what(i int) string {
	return fmt.Sprintf("layer %d (%s)", i+1, ls.diffIDs[i])
}

// Stats is what one Stream measured.
type Stats struct {
	// Compressed is the blob's size, measured (Stream with measure only).
	Compressed int64
	// Uncompressed is the tar stream's size, measured.
	Uncompressed int64
	// Entries is the number of tar headers.
	Entries int
}

// Stream reads layer i's tar and calls fn with each header and a reader
// of its data (fn may leave it unread). The whole stream is read, to its
// end, and checked against the diff ID: the error of a lie ends the
// stream even after the last entry. Entries and uncompressed bytes count
// against the image's limits. ctx is checked between reads.
//
// With measure, Stream reads the compressed blob itself, checks it
// against the layer's digest and declared size, and decompresses it: the
// sizes it returns are then measured, never declared. Without, it reads
// Uncompressed, which costs no compression for a layer built in memory.
func (ls *Layers) Stream(ctx context.Context, i int, measure bool, fn func(h *tar.Header, r io.Reader) error) (Stats, error) {
	var st Stats
	what := ls.what(i)
	l := ls.layers[i]
	var (
		rc  io.ReadCloser
		cv  blob.Verifying
		err error
	)
	if measure {
		d, derr := l.Digest()
		n, serr := l.Size()
		if err := errors.Join(derr, serr); err != nil {
			return st, fmt.Errorf("%s: %w", what, err)
		}
		c, err := l.Compressed()
		if err != nil {
			return st, fmt.Errorf("%s: %w", what, err)
		}
		defer c.Close()
		if v, ok := c.(blob.Verifying); ok {
			if vd, vn := v.Verifies(); vd == d && vn == n {
				cv = v // the source checks what Compressed yields (imagefile)
			}
		}
		if cv == nil {
			if cv, err = blob.Verify(c, d, n, what); err != nil {
				return st, err
			}
		}
		if rc, err = blob.Decompress(cv); err != nil {
			return st, fmt.Errorf("%s: %w", what, err)
		}
	} else if rc, err = l.Uncompressed(); err != nil {
		return st, fmt.Errorf("%s: %w", what, err)
	}
	defer rc.Close()
	ahead := readahead(limits.ContextReader(ctx, rc))
	defer ahead.Close()
	left := ls.lim.Uncompressed - ls.bytes
	bounded := limits.Reader(ahead, left, limits.Uncompressed, "the image's layers")
	uv, err := blob.Verify(bounded, ls.diffIDs[i], -1, what+" uncompressed")
	if err != nil {
		return st, err
	}
	tr := tar.NewReader(uv)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, ls.streamError(what, uv, err)
		}
		st.Entries++
		ls.entries++
		if ls.entries > ls.lim.Entries {
			return st, &limits.Error{Kind: limits.Entries, What: "image", Limit: int64(ls.lim.Entries)}
		}
		// Each name is bounded (limits.Path, by the readers), and their
		// count, but not what they weigh together: a reader keeps them.
		ls.names += int64(len(h.Name) + len(h.Linkname))
		if ls.names > ls.lim.Names {
			return st, &limits.Error{Kind: limits.Names, What: "image", Limit: ls.lim.Names}
		}
		if err := fn(h, tr); err != nil {
			return st, err
		}
	}
	// The end-of-archive marker is not the end of the stream: read the
	// rest (padding, or anything hidden after it) so that the diff ID and
	// digest checks see every byte.
	if _, err := io.Copy(io.Discard, uv); err != nil {
		return st, ls.streamError(what, uv, err)
	}
	st.Uncompressed = uv.N()
	ls.bytes += st.Uncompressed
	if cv != nil {
		if _, err := io.Copy(io.Discard, cv); err != nil {
			return st, err
		}
		st.Compressed = cv.N()
	}
	return st, nil
}

// streamError is err, or the mismatch or bound behind it: a tar reader
// reports a lie at the end of the stream as a malformed archive.
func (ls *Layers) streamError(what string, uv *blob.Verifier, err error) error {
	var le *limits.Error
	var me *blob.MismatchError
	if errors.As(err, &le) || errors.As(err, &me) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if _, derr := io.Copy(io.Discard, uv); derr != nil && (errors.As(derr, &le) || errors.As(derr, &me)) {
		return derr
	}
	return fmt.Errorf("%s: read tar: %w", what, err)
}

// addEntries counts n entries no header names (the parent directories
// layers leave implied) against the image's limit.
func (ls *Layers) addEntries(n int) error {
	ls.entries += n
	if ls.entries > ls.lim.Entries {
		return &limits.Error{Kind: limits.Entries, What: "image", Limit: int64(ls.lim.Entries)}
	}
	return nil
}

// readahead reads r in a goroutine of its own, up to a few chunks ahead of
// its reader: decompressing a layer (there) and hashing and parsing it
// (here) then take two cores, not one after the other.
// At most aheadChunks+1 chunks are read ahead.
func readahead(r io.Reader) io.ReadCloser {
	ra := &aheadReader{chunks: make(chan chunk, aheadChunks), done: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(ra.exited)
		defer close(ra.chunks)
		for {
			b := *(chunkPool.Get().(*[]byte))
			n, err := io.ReadFull(r, b)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			select {
			case ra.chunks <- chunk{b: b[:n], buf: b, err: err}:
			case <-ra.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ra
}

const (
	aheadChunk  = 128 << 10
	aheadChunks = 4
)

// chunkPool holds readahead's buffers between reads: every gate streams
// every layer, and a stream of a small layer should not cost 640 KiB.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, aheadChunk); return &b }}

type chunk struct {
	b, buf []byte
	err    error
}

type aheadReader struct {
	chunks chan chunk
	done   chan struct{}
	exited chan struct{}
	cur    chunk
	closed bool
}

func (a *aheadReader) Read(p []byte) (int, error) {
	for len(a.cur.b) == 0 {
		if a.cur.err != nil {
			return 0, a.cur.err
		}
		if a.cur.buf != nil {
			b := a.cur.buf[:cap(a.cur.buf)]
			chunkPool.Put(&b)
			a.cur.buf = nil
		}
		c, ok := <-a.chunks
		if !ok {
			return 0, io.ErrClosedPipe
		}
		a.cur = c
	}
	n := copy(p, a.cur.b)
	a.cur.b = a.cur.b[n:]
	return n, nil
}

// Close stops the goroutine and waits for it to finish its read, so that
// the source's owner may close the source after. It does not close the
// source.
func (a *aheadReader) Close() error {
	if !a.closed {
		a.closed = true
		close(a.done)
		<-a.exited
	}
	return nil
}
