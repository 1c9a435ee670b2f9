// Package httpshutdownlib is not a main package: ListenAndServe in a helper
// library is the caller's choice, and the one server literal it returns is
// shut down somewhere in the package.
package httpshutdownlib

import (
	"context"
	"net/http"
)

func Serve() error { return http.ListenAndServe(":8080", nil) }

func New() *http.Server { return &http.Server{} }

func Stop(ctx context.Context, s *http.Server) error { return s.Shutdown(ctx) }
