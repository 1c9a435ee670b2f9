// Package healthfamily registers probes of the probe-path family, not only
// the exact /healthz: sub-paths and API paths ending in a probe word.
package healthfamily

import (
	"net/http"

	"github.com/gorilla/mux"
)

func family() {
	m := http.NewServeMux()
	m.HandleFunc("/mutate", nil)
	m.HandleFunc("/health/ready", nil)   // want `health route /health/ready is registered on the mux m together with business routes \(/api/clusters/\{id\}/health, /mutate, /readyz/enable\)`
	m.HandleFunc("/health/live", nil)    // want `health route /health/live is registered`
	m.HandleFunc("/healthz/ready", nil)  // want `health route /healthz/ready is registered`
	m.HandleFunc("GET /livez/ping", nil) // want `health route /livez/ping is registered`
	m.HandleFunc("/api/v1/health", nil)  // want `health route /api/v1/health is registered`
	// A business endpoint that reports on a resource's health is not a
	// probe: it has a parameter.
	m.HandleFunc("/api/clusters/{id}/health", nil)
	// The kubelet probes with GET: a POST that flips readiness is an admin
	// action on the business mux, not a probe.
	m.HandleFunc("POST /readyz/enable", nil)
}

func gorilla() {
	r := mux.NewRouter()
	r.HandleFunc("/-/healthy", nil) // want `health route /-/healthy is registered on the mux r together with business routes \(/api/readiness-report, /readyz/disable\)`
	r.HandleFunc("/api/readiness-report", nil)
	r.HandleFunc("/readyz/disable", nil).Methods("POST")
}

// Probes of every shape on their own mux: fine.
func probesOnly() {
	p := http.NewServeMux()
	p.HandleFunc("/health/ready", nil)
	p.HandleFunc("/health/live", nil)
	p.HandleFunc("/livez/ping", nil)
}
