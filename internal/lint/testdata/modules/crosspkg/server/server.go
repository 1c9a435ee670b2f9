// Package server builds the servers main runs: whether they are shut down
// is decided where main uses them.
package server

import (
	"context"
	"net/http"
)

func New(addr string) *http.Server { return &http.Server{Addr: addr} }

func Stop(ctx context.Context, s *http.Server) error { return s.Shutdown(ctx) }
