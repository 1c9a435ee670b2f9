// Package server is what the monorepo's services share: a business server
// and a probe server on their own ports, readiness that follows the
// business listener, and a SIGTERM drain under a deadline below the pod's
// 30 s grace period. It is a library: go-image's ./cmd/... skips it, and
// an explicit --main ./internal/server is refused.
package server

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// Run serves business on ADDR (default :8080) and the probes on
// PROBE_ADDR (default :8081) until SIGTERM or SIGINT, then drains.
func Run(name string, business *http.ServeMux) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// /slow?d=2s holds a request open, so the drain can be observed.
	business.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil || d < 0 || d > time.Minute {
			d = 2 * time.Second
		}
		select {
		case <-time.After(d):
			fmt.Fprintf(w, "slept %s\n", d)
		case <-r.Context().Done():
		}
	})
	var ready atomic.Bool
	probes := http.NewServeMux()
	probes.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	probes.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	probeLn, err := net.Listen("tcp", envOr("PROBE_ADDR", ":8081"))
	if err != nil {
		return fmt.Errorf("probe listener: %w", err)
	}
	probeSrv := &http.Server{Handler: probes, ReadHeaderTimeout: 5 * time.Second}
	go probeSrv.Serve(probeLn)

	ln, err := net.Listen("tcp", envOr("ADDR", ":8080"))
	if err != nil {
		return fmt.Errorf("business listener: %w", err)
	}
	srv := &http.Server{Handler: business, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ready.Store(true)
	log.Printf("%s: business on %s, probes on %s", name, ln.Addr(), probeLn.Addr())

	select {
	case err := <-errc:
		return fmt.Errorf("business server: %w", err)
	case <-ctx.Done():
	}
	ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("business server: %w", err)
	}
	_ = probeSrv.Shutdown(sctx)
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
