// Package httpshutdownuse uses httpshutdownlib's server across the package
// boundary: shut down through lib.Stop, or not at all.
package httpshutdownuse

import (
	"context"

	lib "httpshutdownlib"
)

func Good(ctx context.Context) {
	s := lib.New()
	go s.ListenAndServe()
	<-ctx.Done()
	lib.Stop(context.WithoutCancel(ctx), s)
}

func Leak() {
	s := lib.New() // want `the http.Server that httpshutdownlib.New returns \(created at lib.go:13\) is never shut down`
	go s.ListenAndServe()
}
