// Command shutdown-no-timeout is a broken variant of the example service: it
// drains on SIGTERM, but Shutdown gets context.Background(), so one hung
// request keeps the process alive until the kubelet's SIGKILL. With a request
// that finishes the drain looks fine at run time; lint's httpshutdown
// analyzer flags the unbounded Shutdown.
package main

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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
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
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ready.Store(true)
	<-ctx.Done()
	ready.Store(false)
	if err := srv.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	_ = probeSrv.Close()
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
