// Command sigtermprobes is a worker whose only server answers probes and
// metrics: dying on SIGTERM cuts nothing worth draining.
package main

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	probes := http.NewServeMux()
	probes.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {})
	probes.Handle("/metrics", promhttp.Handler())
	srv := &http.Server{Addr: ":8081", Handler: probes}
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(time.Hour)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	srv.ListenAndServe()
	<-done
}
