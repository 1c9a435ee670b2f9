// Package httpshutdownlib is a library: ListenAndServe in it is as
// unstoppable as in main, and the server New returns is its callers' to
// shut down (Stop does).
package httpshutdownlib

import (
	"context"
	"net/http"
)

func Serve() error { return http.ListenAndServe(":8080", nil) } // want `http.ListenAndServe gives no handle to shut the server down`

func New() *http.Server { return &http.Server{Addr: ":6060"} }

func Stop(ctx context.Context, s *http.Server) error { return s.Shutdown(ctx) }

// Debug starts a pprof server nobody can reach to stop.
func Debug() {
	go (&http.Server{Addr: ":6061"}).ListenAndServe() // want `this http.Server \(Addr: ":6061"\) is never shut down`
}
