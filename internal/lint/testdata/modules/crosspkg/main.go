// Command crosspkg has findings that only facts across packages reveal, so
// the vet tool (one package at a time) and the checker must carry them the
// same way.
package main

import (
	"context"
	"net/http"
	"time"

	"example.com/crosspkg/kube"
	"example.com/crosspkg/server"
)

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/pods", func(w http.ResponseWriter, r *http.Request) {
		_ = kube.Clients() // a client per request, built in package kube
	})
	srv := server.New(":8080")
	srv.Handler = mux
	go srv.ListenAndServe()
	metrics := server.New(":9090") // never shut down
	go metrics.ListenAndServe()
	//go-image:ignore httpshutdown -- debug listener, bound to localhost
	debug := server.New("localhost:6060")
	go debug.ListenAndServe()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	server.Stop(ctx, srv)
}
