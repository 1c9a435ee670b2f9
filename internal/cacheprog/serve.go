package cacheprog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Limits of what Serve accepts from the go command. The go command is the
// cache program's parent and trusted, but a bound costs nothing.
const (
	// MaxRequestLine bounds one request's JSON (IDs are 44 base64 bytes).
	MaxRequestLine = 1 << 20
	// MaxConcurrentGets bounds the gets answered at once; the go command
	// issues about one per build worker, so this is never the bottleneck.
	MaxConcurrentGets = 64
)

// Serve answers the go command on in and out until it sends "close" or in
// ends: it announces the commands it knows, answers each get concurrently
// (a get may wait on a registry) and each put in order (its body follows
// it on in). onClose, when not nil, runs after every answer is written and
// before "close" is acknowledged, so the go command waits for it (a flush
// of uploads). Serve returns an error only when the stream breaks the
// protocol or out fails.
func Serve(ctx context.Context, in io.Reader, out io.Writer, c Cache, onClose func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &session{ctx: ctx, cache: c, br: bufio.NewReaderSize(in, 64<<10), bw: bufio.NewWriter(out), sem: make(chan struct{}, MaxConcurrentGets)}
	if err := s.respond(&Response{KnownCommands: []Cmd{CmdGet, CmdPut, CmdClose}}); err != nil {
		return err
	}
	err := s.loop()
	s.wg.Wait()
	if onClose != nil {
		onClose()
	}
	if err == errClosed {
		err = s.respond(&Response{ID: s.closeID})
	}
	if err == nil {
		err = s.writeErr()
	}
	return err
}

var errClosed = errors.New("closed")

type session struct {
	ctx     context.Context
	cache   Cache
	br      *bufio.Reader
	sem     chan struct{}
	wg      sync.WaitGroup
	closeID int64

	mu      sync.Mutex // guards bw and werr
	bw      *bufio.Writer
	werr    error
	lineBuf []byte
}

// loop reads requests until close (errClosed), the end of in (nil) or a
// protocol error.
func (s *session) loop() error {
	for {
		line, err := s.readLine()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue // the go command writes an empty line after each request
		}
		var req Request
		if err := json.Unmarshal(line, &req); err != nil {
			return fmt.Errorf("GOCACHEPROG request: %w", err)
		}
		if err := s.writeErr(); err != nil {
			return err
		}
		switch req.Command {
		case CmdGet:
			s.get(req)
		case CmdPut:
			if err := s.put(req); err != nil {
				return err
			}
		case CmdClose:
			s.closeID = req.ID
			return errClosed
		default:
			// A command this program did not announce: the go command
			// never sends one, but an answer keeps it from waiting.
			s.respondLater(&Response{ID: req.ID, Err: fmt.Sprintf("unknown command %q", req.Command)})
		}
	}
}

// readLine returns the next line without its newline; the slice is valid
// until the next read.
func (s *session) readLine() ([]byte, error) {
	s.lineBuf = s.lineBuf[:0]
	for {
		chunk, err := s.br.ReadSlice('\n')
		s.lineBuf = append(s.lineBuf, chunk...)
		if len(s.lineBuf) > MaxRequestLine {
			return nil, fmt.Errorf("GOCACHEPROG request longer than %d bytes", MaxRequestLine)
		}
		switch {
		case err == nil:
			return s.lineBuf[:len(s.lineBuf)-1], nil
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(s.lineBuf) > 0:
			return s.lineBuf, nil
		default:
			return nil, err
		}
	}
}

func (s *session) get(req Request) {
	action, ok := idOf(req.ActionID)
	if !ok {
		s.respondLater(&Response{ID: req.ID, Err: "get: ActionID is not 32 bytes"})
		return
	}
	select {
	case s.sem <- struct{}{}:
	case <-s.ctx.Done():
		s.respondLater(&Response{ID: req.ID, Miss: true})
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		e, ok := s.cache.Get(s.ctx, action)
		if !ok {
			s.respondLater(&Response{ID: req.ID, Miss: true})
			return
		}
		s.respondLater(&Response{ID: req.ID, OutputID: e.OutputID[:], Size: e.Size, DiskPath: e.DiskPath})
	}()
}

// put hands the body to the cache and then reads to its end whatever the
// cache left, so the next request starts where it should. Only a broken
// stream is an error; a refused put is an error response.
func (s *session) put(req Request) error {
	if req.BodySize < 0 {
		return fmt.Errorf("GOCACHEPROG put %d: negative BodySize %d", req.ID, req.BodySize)
	}
	var body *bodyReader
	var r io.Reader = bytes.NewReader(nil)
	if req.BodySize > 0 {
		var err error
		if body, err = newBodyReader(s.br); err != nil {
			return fmt.Errorf("GOCACHEPROG put %d: %w", req.ID, err)
		}
		r = &exactReader{r: base64.NewDecoder(base64.StdEncoding, body), left: req.BodySize}
	}
	action, aok := idOf(req.ActionID)
	output, ook := idOf(req.OutputID)
	var path string
	var err error
	if !aok || !ook {
		err = errors.New("ActionID or OutputID is not 32 bytes")
	} else {
		path, err = s.cache.Put(s.ctx, action, output, req.BodySize, r)
	}
	if body != nil {
		if _, derr := io.Copy(io.Discard, body); derr != nil {
			return fmt.Errorf("GOCACHEPROG put %d: body: %w", req.ID, derr)
		}
	}
	if err != nil {
		s.respondLater(&Response{ID: req.ID, Err: fmt.Sprintf("put %s: %v", action, err)})
		return nil
	}
	s.respondLater(&Response{ID: req.ID, DiskPath: path})
	return nil
}

// respondLater writes a response; a write error is kept and ends the loop.
func (s *session) respondLater(r *Response) {
	if err := s.respond(r); err != nil {
		s.mu.Lock()
		if s.werr == nil {
			s.werr = err
		}
		s.mu.Unlock()
	}
}

func (s *session) respond(r *Response) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.werr != nil {
		return s.werr
	}
	b = append(b, '\n')
	if _, err := s.bw.Write(b); err != nil {
		return err
	}
	return s.bw.Flush()
}

func (s *session) writeErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.werr
}
