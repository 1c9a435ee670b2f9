// Package blob checks content against the digest and size that name it,
// while the content streams: a blob is never trusted for what a manifest,
// an index or a config says of it, only for what hashes to the digest.
package blob

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"
)

// ErrDigest and ErrSize are wrapped by a MismatchError of their kind.
var (
	ErrDigest = errors.New("digest mismatch")
	ErrSize   = errors.New("size mismatch")
)

// MismatchError is content that is not what names it.
type MismatchError struct {
	// What was read: "layer 1 (sha256:…)", "config", "index.json's manifest".
	What string
	// Err is ErrDigest or ErrSize.
	Err       error
	Want, Got string
}

func (e *MismatchError) Error() string {
	what := "digest"
	if e.Err == ErrSize {
		what = "size"
	}
	return fmt.Sprintf("%s: the content's %s is %s, the image says %s: the image is corrupt or was altered after it was built; rebuild or re-export it", e.What, what, e.Got, e.Want)
}

func (e *MismatchError) Unwrap() error { return e.Err }

// Check returns a MismatchError unless b has digest d and, when size >= 0,
// that size.
func Check(b []byte, d v1.Hash, size int64, what string) error {
	if size >= 0 && int64(len(b)) != size {
		return SizeError(what, size, int64(len(b)))
	}
	h, err := hasher(d, what)
	if err != nil {
		return err
	}
	h.Write(b)
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Hex {
		return &MismatchError{What: what, Err: ErrDigest, Want: d.String(), Got: d.Algorithm + ":" + got}
	}
	return nil
}

// Verifier passes r through, hashing and counting it. Past size bytes (when
// size >= 0) a read fails with ErrSize; at r's end, a digest other than d
// or a length other than size fails the read that reached it, in place of
// io.EOF. A reader must therefore read to io.EOF for the check to run.
type Verifier struct {
	r    io.Reader
	h    hash.Hash
	d    v1.Hash
	size int64
	n    int64
	what string
	err  error
}

// Verify returns a Verifier of r against d and size (-1: any size).
func Verify(r io.Reader, d v1.Hash, size int64, what string) (*Verifier, error) {
	h, err := hasher(d, what)
	if err != nil {
		return nil, err
	}
	return &Verifier{r: r, h: h, d: d, size: size, what: what}, nil
}

func (v *Verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.size >= 0 && int64(len(p)) > v.size-v.n+1 {
		// Read at most one byte past the declared size.
		p = p[:v.size-v.n+1]
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.size >= 0 && v.n > v.size {
		// The rest is unread: all that is known is that there is more.
		v.err = &MismatchError{What: v.what, Err: ErrSize, Want: Bytes(v.size), Got: "more than " + Bytes(v.size)}
		return n, v.err
	}
	if errors.Is(err, io.EOF) {
		if v.size >= 0 && v.n != v.size {
			v.err = SizeError(v.what, v.size, v.n)
			return n, v.err
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.d.Hex {
			v.err = &MismatchError{What: v.what, Err: ErrDigest, Want: v.d.String(), Got: v.d.Algorithm + ":" + got}
			return n, v.err
		}
		v.err = io.EOF
	}
	return n, err
}

// N is how many bytes have been read so far: after io.EOF, the verified
// size.
func (v *Verifier) N() int64 { return v.n }

// Verifies returns the digest and size v checks against.
func (v *Verifier) Verifies() (v1.Hash, int64) { return v.d, v.size }

// Verifying is a reader that checks itself, as a Verifier does: a reader
// of a blob that gets one from its source need not hash it again.
type Verifying interface {
	io.Reader
	Verifies() (v1.Hash, int64)
	N() int64
}

// SizeError is the MismatchError of content of got bytes named as want.
func SizeError(what string, want, got int64) error {
	return &MismatchError{What: what, Err: ErrSize, Want: Bytes(want), Got: Bytes(got)}
}

// Bytes is n with its unit: "1 byte", "5002752 bytes".
func Bytes(n int64) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

func hasher(d v1.Hash, what string) (hash.Hash, error) {
	if d.Algorithm != "sha256" || len(d.Hex) != 64 {
		return nil, fmt.Errorf("%s: digest %q: go-image verifies sha256 digests only (every OCI and Docker tool writes them)", what, d.String())
	}
	return sha256.New(), nil
}

// Decompress returns r decompressed as its first bytes say: gzip, zstd, or
// not compressed at all. Layers are told apart this way, not by media
// type, because that is how containerd unpacks them. Closing it does not
// close r.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	p := &peeker{r: r}
	magic, err := p.peek(4)
	if err != nil {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(p)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		// A frame may ask for a window of gigabytes; real layers use 8 MiB
		// (128 MiB with zstd --long).
		zr, err := zstd.NewReader(p, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(128<<20))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(p), nil
}

// peeker lets Decompress look at the first bytes without losing them.
type peeker struct {
	r    io.Reader
	head []byte
}

func (p *peeker) peek(n int) ([]byte, error) {
	buf := make([]byte, n)
	m, err := io.ReadFull(p.r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	p.head = buf[:m]
	return p.head, nil
}

func (p *peeker) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	return p.r.Read(b)
}
