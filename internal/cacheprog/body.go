package cacheprog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// bodyReader reads a put's body as it stands on the stream, a JSON string
// of base64 ("…"), and returns the characters between the quotes, so the
// body is decoded as it streams instead of held in memory (an object can be
// tens of megabytes). Base64 has no escapes, so the first closing quote ends
// it.
type bodyReader struct {
	br      *bufio.Reader
	pending []byte // from the last ReadSlice; valid until the next read of br
	last    bool   // pending ends the string
	done    bool
}

// newBodyReader skips the whitespace before the body's opening quote.
func newBodyReader(br *bufio.Reader) (*bodyReader, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("body: %w", noEOF(err))
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			return &bodyReader{br: br}, nil
		}
		return nil, fmt.Errorf("body: want a JSON string, got %q", c)
	}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	if len(b.pending) == 0 {
		s, err := b.br.ReadSlice('"')
		switch {
		case err == nil:
			s, b.last = s[:len(s)-1], true
		case err == bufio.ErrBufferFull:
		default:
			return 0, fmt.Errorf("body: %w", noEOF(err))
		}
		b.pending = s
		if len(s) == 0 && b.last {
			b.done = true
			return 0, io.EOF
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	if len(b.pending) == 0 && b.last {
		b.done = true
	}
	return n, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// exactReader yields exactly left bytes of r: an r that ends early, or has
// more, is an error, so a put never stores a body of another size than the
// one announced.
type exactReader struct {
	r    io.Reader
	left int64
}

var errBodySize = errors.New("body size differs from BodySize")

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		var one [1]byte
		if n, _ := io.ReadFull(e.r, one[:]); n > 0 {
			return 0, errBodySize
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, errBodySize
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}
