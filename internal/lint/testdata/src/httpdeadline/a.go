// Package httpdeadline shuts servers down with contexts derived from
// context.Background() without a deadline, however many layers deep, and
// with the deadline-bearing forms that are fine.
package httpdeadline

import (
	"context"
	"net/http"
	"os/signal"
	"syscall"
	"time"
)

type runner struct{ srv *http.Server }

// Derived early in Run, used later in a goroutine.
func (r *runner) Run(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		r.srv.Shutdown(ctx) // want `Shutdown\(ctx \(context.WithCancel\(context.Background\(\)\)\)\) has no deadline`
	}()
	r.srv.ListenAndServe()
}

type key struct{}

// A chain of values, cancels and a signal context over Background.
func chain(srv *http.Server) {
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx := context.WithValue(base, key{}, "v")
	sig, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	<-sig.Done()
	srv.Shutdown(sig) // want `Shutdown\(sig \(signal.NotifyContext\(context.WithValue\(context.WithCancel\(context.Background\(\)\)\)\)\)\) has no deadline`
}

// WithoutCancel drops the deadline of its parent.
func detached(ctx context.Context, srv *http.Server) {
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	srv.Shutdown(context.WithoutCancel(tctx)) // want `Shutdown\(context.WithoutCancel\(tctx\) \(it drops the parent's deadline\)\) has no deadline`
}

// A field set once, to a context without deadline.
type app struct {
	srv *http.Server
	ctx context.Context
}

func newApp() *app { return &app{srv: &http.Server{}, ctx: context.TODO()} }

func (a *app) stop() { a.srv.Shutdown(a.ctx) } // want `Shutdown\(ctx \(context.TODO\(\)\)\) has no deadline`

// A helper that derives its own context from its parameter: the caller's
// context decides.
func shutdownWith(ctx context.Context, srv *http.Server) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv.Shutdown(sctx)
}

func callers(srv *http.Server) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shutdownWith(ctx, srv) // want `httpdeadline.shutdownWith passes ctx \(context.WithCancel\(context.Background\(\)\)\), which has no deadline`
	tctx, tcancel := context.WithTimeout(ctx, 25*time.Second)
	defer tcancel()
	shutdownWith(tctx, srv)
}

// Fine: a deadline somewhere in the chain, or a value we cannot judge.
func good(srv *http.Server, parent context.Context, ctxs []context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sctx, scancel := context.WithTimeout(ctx, 25*time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	vctx := context.WithValue(sctx, key{}, "v") // values keep the deadline
	srv.Shutdown(vctx)
	srv.Shutdown(parent) // the caller's
	for _, c := range ctxs {
		srv.Shutdown(c)
	}
	var later context.Context = context.Background()
	later, lcancel := context.WithTimeout(later, time.Second) // re-derived: one store has a deadline
	defer lcancel()
	srv.Shutdown(later)
	maybe := context.Background()
	setCtx(&maybe)
	srv.Shutdown(maybe) // its address was taken: anything may be stored
}

func setCtx(p *context.Context) {}
