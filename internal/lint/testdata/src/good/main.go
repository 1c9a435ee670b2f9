// Command service is go-image's example service. It follows every rule of the
// founding note for a Go service on Kubernetes:
//   - probes on their own server (:8081 /healthz, /readyz), apart from the
//     business server (:8080), so a saturated business mux cannot fail liveness;
//   - /readyz answers 200 only once the business listener accepts connections,
//     and 503 from the moment SIGTERM arrives;
//   - SIGTERM/SIGINT drain in-flight requests with http.Server.Shutdown under a
//     deadline shorter than the pod's 30 s grace period;
//   - one outbound client, created at start-up and reused by every request.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type server struct {
	ready    atomic.Bool
	upstream *http.Client // created once; never per request
}

func (s *server) business() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from service %s\n", version)
	})
	// /slow?d=2s holds a request open, so shutdown draining can be observed.
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
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
	// /fetch?url=... shows the reused client; it is not used by the probes.
	mux.HandleFunc("GET /fetch", func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, r.URL.Query().Get("url"), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := s.upstream.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
	})
	return mux
}

func (s *server) probes() http.Handler {
	mux := http.NewServeMux()
	// Liveness checks only that the process serves HTTP: no dependencies, so a
	// slow database never gets the pod restarted.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	return mux
}

func main() {
	addr := flag.String("addr", envOr("ADDR", ":8080"), "business listen address")
	probeAddr := flag.String("probe-addr", envOr("PROBE_ADDR", ":8081"), "probe listen address")
	drain := flag.Duration("shutdown-timeout", 25*time.Second, "how long Shutdown waits for in-flight requests; keep it below terminationGracePeriodSeconds (30 s)")
	flag.Parse()
	if err := run(*addr, *probeAddr, *drain); err != nil {
		log.Fatal(err)
	}
}

func run(addr, probeAddr string, drain time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	s := &server{upstream: &http.Client{Timeout: 10 * time.Second}}
	probeLn, err := net.Listen("tcp", probeAddr)
	if err != nil {
		return fmt.Errorf("probe listener: %w", err)
	}
	probeSrv := &http.Server{Handler: s.probes(), ReadHeaderTimeout: 5 * time.Second}
	go probeSrv.Serve(probeLn)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("business listener: %w", err)
	}
	srv := &http.Server{Handler: s.business(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// The listener is bound and accepting: only now is the pod ready.
	s.ready.Store(true)
	log.Printf("service %s: business on %s, probes on %s", version, ln.Addr(), probeLn.Addr())

	select {
	case err := <-errc:
		return fmt.Errorf("business server: %w", err)
	case <-ctx.Done():
	}
	// Stop taking new traffic first: the endpoints controller sees 503 and
	// removes the pod while in-flight requests finish.
	s.ready.Store(false)
	log.Printf("signal received: draining for up to %s", drain)
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("business server: %w", err)
	}
	_ = probeSrv.Shutdown(sctx)
	log.Printf("drained, exiting")
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
