// Command no-sigterm is a broken variant of the example service: probes are
// separate and readiness is honest, but nothing handles SIGTERM, so the Go
// runtime's default action kills the process mid-request. The smoke gate's
// sigterm checks fail (and lint flags an http.Server never shut down).
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync/atomic"
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
	go (&http.Server{Handler: probes, ReadHeaderTimeout: 5 * time.Second}).Serve(probeLn)
	ln, err := net.Listen("tcp", envOr("ADDR", ":8080"))
	if err != nil {
		log.Fatal(err)
	}
	ready.Store(true)
	srv := &http.Server{Handler: business, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.Serve(ln))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
