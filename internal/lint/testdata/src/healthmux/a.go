package healthmux

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func shared() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", nil) // want `health route /healthz is registered on the mux mux together with business routes \(/orders, /orders/\{id\}\).*separate http.Server`
	mux.HandleFunc("/readyz/", nil)     // want `health route /readyz is registered on the mux mux together`
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
	http.HandleFunc("/health", nil) // want `health route /health is registered on .*http.DefaultServeMux.* together with business routes \(/api\)`
	http.HandleFunc("/api", nil)
}

type srv struct{ mux *http.ServeMux }

func (s *srv) routes() {
	s.mux.HandleFunc("/livez", nil) // want `health route /livez`
	s.mux.HandleFunc("/things", nil)
}

// A probe port that also serves the process's own metrics and pprof is
// where probes belong: operational routes are not business.
func ProbePort() *http.Server {
	probes := http.NewServeMux()
	probes.HandleFunc("/healthz", nil)
	probes.Handle("/metrics", promhttp.Handler())
	probes.HandleFunc("/debug/pprof/", nil)
	return &http.Server{Addr: ":8081", Handler: probes}
}

type productMetrics struct{}

func (productMetrics) ServeHTTP(http.ResponseWriter, *http.Request) {}

// When /metrics is what the service exists to serve (its product, not
// promhttp), it is business: probes beside it share its fate.
func MetricsProduct() *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", productMetrics{})
	mux.HandleFunc("/livez", nil) // want `health route /livez is registered on the http.Server srv on ":8080" \(mux mux\) together with business routes \(/metrics\)`
	srv := &http.Server{Addr: ":8080", Handler: mux}
	return srv
}

func authFilter(h http.Handler) http.Handler { return h }

// Self-metrics behind an auth filter are still the process's own metrics.
func Telemetry(reg promhttp.Gatherer) *http.ServeMux {
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	metrics = authFilter(metrics)
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/readyz", nil)
	return mux
}

// The product, timed by promhttp's middleware, is still the product.
func Product(durations any) *http.ServeMux {
	mux := http.NewServeMux()
	var metrics http.Handler = promhttp.InstrumentHandlerDuration(durations, productMetrics{})
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/healthz", nil) // want `health route /healthz is registered on the http.Server srv on ":8080" \(mux mux\) together with business routes \(/metrics\)`
	return mux
}

func serveProduct() {
	productMux := Product(nil)
	srv := http.Server{Addr: ":8080", Handler: productMux}
	go srv.ListenAndServe()
	srv.Close()
}
