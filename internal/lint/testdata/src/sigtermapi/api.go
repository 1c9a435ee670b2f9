// Package sigtermapi serves a business API until its context is done, then
// drains it: whether SIGTERM reaches it is its main's business.
package sigtermapi

import (
	"context"
	"net/http"
	"time"
)

func Serve(ctx context.Context) {
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
