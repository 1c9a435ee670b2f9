// Command main-returns-before-drain is a broken variant of the example
// service: probes are separate, readiness turns 503 on SIGTERM and Shutdown
// has a deadline, all in a goroutine. But main returns as soon as Serve
// does, and Serve returns http.ErrServerClosed the moment Shutdown starts,
// not when it has drained: the process exits 0 promptly and the in-flight
// request is cut. The smoke gate's sigterm-drain fails with the advice to
// wait for Shutdown; lint's httpshutdown flags the Serve call in main.
package main

import (
	"context"
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

func main() {
	var ready atomic.Bool
	probes := http.NewServeMux()
	probes.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	probes.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	business := http.NewServeMux()
	business.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil || d < 0 || d > time.Minute {
			d = 2 * time.Second
		}
		time.Sleep(d)
		fmt.Fprintf(w, "slept %s\n", d)
	})

	probeLn, err := net.Listen("tcp", envOr("PROBE_ADDR", ":8081"))
	if err != nil {
		log.Fatal(err)
	}
	probeSrv := &http.Server{Handler: probes, ReadHeaderTimeout: 5 * time.Second}
	go probeSrv.Serve(probeLn)
	ln, err := net.Listen("tcp", envOr("ADDR", ":8080"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: business, ReadHeaderTimeout: 5 * time.Second}
	go shutdownOnSignal(srv, probeSrv, &ready)
	ready.Store(true)
	// The mistake: Serve returns ErrServerClosed as soon as Shutdown starts.
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	log.Print("server closed, exiting")
}

// shutdownOnSignal marks the pod unready, gives the endpoints controller a
// second to notice, and drains under a deadline below the grace period.
func shutdownOnSignal(srv, probeSrv *http.Server, ready *atomic.Bool) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	ready.Store(false)
	time.Sleep(time.Second)
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	probeSrv.Shutdown(sctx)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
