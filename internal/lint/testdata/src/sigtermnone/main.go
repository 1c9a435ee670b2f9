// Command sigtermnone serves business HTTP and handles no signal: the
// kubelet's SIGTERM kills it mid-request, and its shutdown (on a fatal
// error) never runs on SIGTERM.
package main

import (
	"context"
	"net/http"
	"time"
)

func main() { // want `this program serves HTTP \(the http.Server \(Addr: ":8080"\) at main.go:\d+\) and nothing in it handles SIGTERM: the kubelet's SIGTERM kills it at once`
	api := http.NewServeMux()
	api.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {})
	srv := &http.Server{Addr: ":8080", Handler: api}
	fatal, done := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(done)
		<-fatal
		ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	fatal <- srv.ListenAndServe()
	<-done
}
