// Package healthrouters registers probes beside business routes on the
// common routers.
package healthrouters

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func Gorilla() *http.Server {
	r := mux.NewRouter()
	r.HandleFunc("/healthz", nil) // want `health route /healthz is registered on the http.Server on ":8080" \(mux r\) together with business routes \(/api/orders\)`
	r.HandleFunc("/api/orders", nil).Methods("GET")
	return &http.Server{Addr: ":8080", Handler: r}
}

func chiRouter() {
	r := chi.NewRouter()
	r.Get("/readyz", nil) // want `health route /readyz is registered on the mux r together with business routes \(/items\)`
	r.Post("/items", nil)
}

func ginEngine() {
	e := gin.New()
	e.GET("/health", nil) // want `health route /health is registered on the mux e together with business routes \(/v1/users\)`
	e.Handle("POST", "/v1/users", nil)
}

func echoServer() {
	e := echo.New()
	e.GET("/livez", nil) // want `health route /livez is registered on the mux e together with business routes \(/todo\)`
	e.PUT("/todo", nil)
}

// Probes and metrics on their own chi router: fine.
func chiProbes() {
	p := chi.NewRouter()
	p.Get("/healthz", nil)
	p.Handle("/metrics", promhttp.Handler())
}

type api struct {
	prefix string
	r      *mux.Router
}

func (a *api) path(p string) string { return a.prefix + p }

// Paths joined to a prefix are still the routes they spell.
func (a *api) routes() {
	a.r.HandleFunc(a.path("/healthz"), nil) // want `health route /healthz is registered on the mux a.r together with business routes \(/orders\)`
	a.r.HandleFunc(a.prefix+"/orders", nil)
}
