package imagefs

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/limits"
)

// Pass is one read of an image shared by several readers: the size, UPX
// and hardening gates each used to read every layer on their own (its
// blob, its decompression, two hashes); together they read it once. Each
// reader says what it needs (Headers, Files, Keep) before Run; Run streams
// every layer once, checks its blob against its digest and declared size
// and its contents against its diff ID (Layers.Stream with measure), and
// applies it as Read does.
type Pass struct {
	headers []func(layer int, h *tar.Header)
	files   []func(e Entry, r io.Reader) (any, error)
	keeps   []func(Entry) bool
	limit   int64
	fs      bool
}

// Filesystem asks for the flattened filesystem (Result.FS), as Files and
// Keep do; without any of them, Run only streams the layers.
func (p *Pass) Filesystem() { p.fs = true }

// Headers asks for every tar header of every layer as stored, in order,
// with the layer's index: what each layer holds and costs, whatever a
// later layer does to it.
func (p *Pass) Headers(fn func(layer int, h *tar.Header)) { p.headers = append(p.headers, fn) }

// Files asks for the contents of every regular file, once, as its layer is
// applied (so also of files a later layer replaces or deletes); inspect
// reads what it needs and returns its note on the file, which
// Result.Note gives for the files of the final filesystem. A hard link is
// its file: inspected once. An error stops this reader only: Result.Note
// returns it.
func (p *Pass) Files(inspect func(e Entry, r io.Reader) (any, error)) Reader {
	p.files = append(p.files, inspect)
	return Reader(len(p.files) - 1)
}

// Reader is a Files reader of a Pass.
type Reader int

// Keep asks for the contents of the regular files keep selects, each of at
// most limit bytes, as Read's keep (FS.ReadFile returns them from memory).
func (p *Pass) Keep(keep func(Entry) bool, limit int64) {
	p.keeps = append(p.keeps, keep)
	p.limit = max(p.limit, limit)
}

// PanicError is a Files reader's panic, with the stack where it happened.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Result is what a Pass read.
type Result struct {
	// Layers are each layer's measured sizes, in order.
	Layers []Stats
	// FS is the flattened filesystem, when asked for; nil when ApplyErr
	// is set.
	FS *FS
	// ApplyErr says why the layers could not be applied (a Refusal, a
	// kept file over its limit): the readers of the filesystem cannot
	// judge it, while Layers and the headers, read to the end of every
	// layer, still hold.
	ApplyErr error

	notes   []map[string]any
	fileErr []error
}

// Note is what reader r returned for the regular file at path (a path of
// the final filesystem, not a hard link to it), and r's error if it failed.
func (res *Result) Note(r Reader, path string) (any, error) {
	if err := res.fileErr[r]; err != nil {
		return nil, err
	}
	return res.notes[r][path], nil
}

// Run reads img once. An error is one every reader shares (a blob that is
// not its digest, a bound, ctx ending); a layer that cannot be applied is
// only ApplyErr.
func (p *Pass) Run(ctx context.Context, img v1.Image) (*Result, error) {
	ls, err := OpenLayers(ctx, img)
	if err != nil {
		return nil, err
	}
	limit := p.limit
	if kept := limits.From(ctx).Kept; limit <= 0 || limit > kept {
		limit = kept
	}
	res := &Result{notes: make([]map[string]any, len(p.files)), fileErr: make([]error, len(p.files))}
	for i := range res.notes {
		res.notes[i] = map[string]any{}
	}
	a := newApplier(ls)
	if len(p.keeps) > 0 {
		a.keep, a.keepLimit = func(e Entry) bool {
			for _, k := range p.keeps {
				if k(e) {
					return true
				}
			}
			return false
		}, limit
	}
	if len(p.files) > 0 {
		a.inspect = func(e Entry, r io.Reader) []any { return p.inspect(res, e, r) }
	}
	apply := p.fs || len(p.files) > 0 || len(p.keeps) > 0
	for i := 0; i < ls.Len(); i++ {
		if apply && res.ApplyErr == nil {
			a.startLayer(i)
		}
		ord := 0
		st, err := ls.Stream(ctx, i, true, func(h *tar.Header, r io.Reader) error {
			for _, fn := range p.headers {
				fn(i, h)
			}
			if !apply || res.ApplyErr != nil {
				return nil
			}
			if err := a.apply(h, ord, r); err != nil {
				res.ApplyErr = err
			}
			ord++
			return nil
		})
		if err != nil {
			return nil, err
		}
		res.Layers = append(res.Layers, st)
	}
	if apply && res.ApplyErr == nil {
		res.FS = a.fs(img, limit, func(path string, notes []any) {
			for r, n := range notes {
				res.notes[r][path] = n
			}
		})
	}
	return res, nil
}

// inspect hands a file to every Files reader that has not failed: to one
// directly, to several through pipes, each reading at its own pace.
func (p *Pass) inspect(res *Result, e Entry, r io.Reader) []any {
	notes := make([]any, len(p.files))
	var live []int
	for i := range p.files {
		if res.fileErr[i] == nil {
			live = append(live, i)
		}
	}
	run := func(i int, r io.Reader) {
		defer func() {
			// A reader parses untrusted bytes (ELF headers): its panic is
			// its own failure, kept with its stack for the report, never
			// the other readers' or the process's.
			if v := recover(); v != nil {
				res.fileErr[i] = &PanicError{Value: v, Stack: debug.Stack()}
			}
		}()
		n, err := p.files[i](e, r)
		if err != nil {
			res.fileErr[i] = fmt.Errorf("read %s: %w", e.Path, err)
			return
		}
		notes[i] = n
	}
	switch len(live) {
	case 0:
	case 1:
		run(live[0], r)
	default:
		var wg sync.WaitGroup
		ws := make([]io.Writer, len(live))
		for j, i := range live {
			pr, pw := io.Pipe()
			ws[j] = pw
			wg.Add(1)
			go func() {
				defer wg.Done()
				run(i, pr)
				// A reader that stops early must not block the others.
				_, _ = io.Copy(io.Discard, pr)
			}()
		}
		_, err := io.Copy(io.MultiWriter(ws...), r)
		for _, w := range ws {
			w.(*io.PipeWriter).CloseWithError(err)
		}
		wg.Wait()
	}
	return notes
}
