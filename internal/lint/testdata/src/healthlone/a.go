// Package healthlone is a controller whose only HTTP server is its status
// server: /healthz beside a status endpoint that reports the last poll.
// Neither is business traffic; that mux is the probe server.
package healthlone

import (
	"fmt"
	"log"
	"net/http"
)

type healthServer struct{ lastErr error }

func (hs *healthServer) Start() {
	http.HandleFunc("/healthz", func(w http.ResponseWriter, req *http.Request) {})
	http.HandleFunc("/last-poll", hs.lastPoll)
	http.Handle("/config", http.HandlerFunc(hs.config))
	http.Handle("/status", &statusPage{})
	log.Fatal(http.ListenAndServe(":8080", nil)) // want `http.ListenAndServe gives no handle`
}

func (hs *healthServer) lastPoll(w http.ResponseWriter, req *http.Request) {
	if hs.lastErr != nil {
		w.WriteHeader(500)
		fmt.Fprintf(w, "last poll: %v", hs.lastErr)
	}
}

// Reading the query and headers is still reporting state.
func (hs *healthServer) config(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("verbose") != "" && r.Header.Get("Accept") != "" {
		fmt.Fprintln(w, "verbose")
	}
}

type statusPage struct{}

func (*statusPage) ServeHTTP(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }
