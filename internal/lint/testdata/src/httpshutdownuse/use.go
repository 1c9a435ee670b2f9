// Package httpshutdownuse uses httpshutdownlib's server across the package
// boundary: shut down through lib.Stop, or not at all.
package httpshutdownuse

import (
	"context"
	"time"

	lib "httpshutdownlib"
)

func Good(ctx context.Context) {
	s := lib.New()
	go s.ListenAndServe()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 25*time.Second)
	defer cancel()
	lib.Stop(sctx, s)
}

// WithoutCancel keeps the values and drops the deadline with the
// cancellation: the drain is unbounded.
func Unbounded(ctx context.Context) {
	s := lib.New()
	go s.ListenAndServe()
	<-ctx.Done()
	lib.Stop(context.WithoutCancel(ctx), s) // want `httpshutdownlib.Stop passes context.WithoutCancel\(ctx\) \(it drops the parent's deadline\), which has no deadline`
}

func Leak() {
	s := lib.New() // want `the http.Server that httpshutdownlib.New returns \(created at lib.go:13\) is never shut down`
	go s.ListenAndServe()
}
