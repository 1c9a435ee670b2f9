// Command sigtermlib handles SIGTERM in a package of its own: fine.
package main

import (
	"context"
	"net/http"
	"time"

	"sigtermsignals"
)

func main() {
	ctx := sigtermsignals.SetupSignalContext()
	api := http.NewServeMux()
	api.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {})
	srv := &http.Server{Addr: ":8080", Handler: api}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	srv.ListenAndServe()
	<-done
}
