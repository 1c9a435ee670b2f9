package healthmux

import "net/http"

func shared() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", nil) // want `health route /healthz is registered on the same mux as business routes \(/orders, /orders/\{id\}\).*separate http.Server`
	mux.HandleFunc("/readyz/", nil)     // want `health route /readyz is registered on the same mux`
	mux.HandleFunc("GET /orders", nil)
	mux.Handle("GET /orders/{id}", nil)
}

func separate() {
	probes := http.NewServeMux()
	probes.HandleFunc("/healthz", nil)
	probes.HandleFunc("/livez", nil)
	business := http.NewServeMux()
	business.HandleFunc("/", nil)
}

func defaultMux() {
	http.HandleFunc("/health", nil) // want `health route /health is registered on the same mux as business routes \(/api\)`
	http.HandleFunc("/api", nil)
}

type srv struct{ mux *http.ServeMux }

func (s *srv) routes() {
	s.mux.HandleFunc("/livez", nil) // want `health route /livez`
	s.mux.HandleFunc("/things", nil)
}
