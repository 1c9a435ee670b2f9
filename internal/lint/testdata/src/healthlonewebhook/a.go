// Package healthlonewebhook has one server too, but beside /healthz and a
// status route it admits pods: /mutate reads the request body, /items/{id}
// is a parameterised route and /orders takes POST. Those are business.
package healthlonewebhook

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

func Serve(ctx context.Context) {
	m := http.NewServeMux()
	m.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {}) // want `health route /healthz is registered on the http.Server srv on ":8443" \(mux m\) together with business routes \(/items/\{id\}, /mutate, /orders\)`
	m.HandleFunc("/last-sync", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, r.Method) })
	m.HandleFunc("/mutate", mutate)
	m.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	m.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {})
	srv := &http.Server{Addr: ":8443", Handler: m}
	go srv.ListenAndServeTLS("", "")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
}

func mutate(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Write(body)
}
