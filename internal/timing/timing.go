// Package timing records how long each stage of a command took: the
// compile and its steps, each gate, the push. The CLI prints it with
// --timings and the Dagger module in its log, so that a slow release says
// where its time went before anyone guesses.
//
// The recorder travels in the context, as a trace span does: a stage
// records itself with Start wherever it runs, and code without a recorder
// in its context records nothing and pays nothing. Stages overlap (the lint
// runs alongside the compile, smoke alongside the other gates), so each
// span keeps its start and end, not only its length.
package timing

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"dagger/go-image/internal/safetext"
)

// Span is one recorded stage, its start and end measured from the
// recorder's creation.
type Span struct {
	Name       string
	Start, End time.Duration
}

// Took is how long the span lasted.
func (s Span) Took() time.Duration { return s.End - s.Start }

// Recorder collects spans from any goroutine.
type Recorder struct {
	t0  time.Time
	now func() time.Time

	mu    sync.Mutex
	spans []Span
}

// New returns a recorder whose clock starts now.
func New() *Recorder { return &Recorder{t0: time.Now(), now: time.Now} }

type key struct{}

// With returns ctx carrying r.
func With(ctx context.Context, r *Recorder) context.Context {
	return context.WithValue(ctx, key{}, r)
}

// From returns ctx's recorder, or nil.
func From(ctx context.Context) *Recorder {
	r, _ := ctx.Value(key{}).(*Recorder)
	return r
}

// Start begins a span named name in ctx's recorder and returns the
// function that ends it; without a recorder both are no-ops. Call the
// function once: a second call records nothing more.
func Start(ctx context.Context, name string) (end func()) {
	return From(ctx).Start(name)
}

// Start begins a span; see the package function. A nil r records nothing.
func (r *Recorder) Start(name string) (end func()) {
	if r == nil {
		return func() {}
	}
	start := r.now().Sub(r.t0)
	var once sync.Once
	return func() {
		once.Do(func() {
			end := r.now().Sub(r.t0)
			r.mu.Lock()
			r.spans = append(r.spans, Span{Name: name, Start: start, End: end})
			r.mu.Unlock()
		})
	}
}

// Spans returns the spans recorded so far, by start, then by end (an
// enclosing span before the spans within it), then by name.
func (r *Recorder) Spans() []Span {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	out := append([]Span(nil), r.spans...)
	r.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End != b.End {
			return a.End > b.End
		}
		return a.Name < b.Name
	})
	return out
}

// Write renders the spans as a table: start and length in seconds, and the
// stage. A span's name may quote a platform or a gate's name: it is
// escaped like every other line go-image prints.
func (r *Recorder) Write(w io.Writer) error {
	spans := r.Spans()
	var total time.Duration
	if r != nil {
		total = r.now().Sub(r.t0)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "go-image: timings: %.3f s in all (seconds since the start; stages that overlap ran side by side)\n", total.Seconds())
	fmt.Fprintf(&b, "  %7s %7s  %s\n", "start", "took", "stage")
	for _, s := range spans {
		fmt.Fprintf(&b, "  %7.3f %7.3f  %s\n", s.Start.Seconds(), s.Took().Seconds(), safetext.Line(s.Name))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Logged returns ctx carrying a new recorder, and the function that
// writes its spans to w: what an executor defers around a command.
func Logged(ctx context.Context, w io.Writer) (context.Context, func()) {
	r := New()
	return With(ctx, r), func() { _ = r.Write(w) }
}
