package main

import (
	"context"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/manager"
)

type app struct{ srv *http.Server }

func main() {
	http.ListenAndServe(":8080", nil)              // want `http.ListenAndServe gives no handle to shut the server down`
	http.ListenAndServeTLS(":8443", "c", "k", nil) // want `http.ListenAndServeTLS gives no handle`

	leaked := &http.Server{Addr: ":9090"} // want `this http.Server \(Addr: ":9090"\) is never shut down`
	go leaked.ListenAndServe()

	bounded := &http.Server{Addr: ":8080"}
	go bounded.ListenAndServe()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	bounded.Shutdown(ctx)

	unbounded := &http.Server{Addr: ":8081"}
	unbounded.Shutdown(context.Background()) // want `Shutdown\(context.Background\(\)\) has no deadline`
	unbounded.Shutdown(context.TODO())       // want `Shutdown\(context.TODO\(\)\) has no deadline`
	bg := context.Background()
	unbounded.Shutdown(bg) // want `Shutdown\(bg \(context.Background\(\)\)\) has no deadline`

	a := app{srv: &http.Server{Addr: ":8082"}}
	a.srv.Shutdown(ctx)
	var b app
	b.srv = &http.Server{Addr: ":8083"}
	b.srv.Shutdown(ctx)

	// Built in one function, returned, shut down here.
	metrics := newMetricsServer()
	metrics.Shutdown(ctx)

	// Passed to a helper that shuts it down, with the caller's deadline.
	probes := &http.Server{Addr: ":8084"}
	go probes.ListenAndServe()
	stop(ctx, probes)
	stop(context.Background(), probes) // want `main.stop passes context.Background\(\), which has no deadline, on to http.Server.Shutdown`

	// Captured by a closure that shuts it down later.
	admin := &http.Server{Addr: ":8085"}
	onExit(func() { admin.Shutdown(ctx) })

	// Added to a controller-runtime manager, which stops its runnables.
	var mgr manager.Manager
	mgr.Add(&manager.Server{Name: "extra", Server: &http.Server{Addr: ":8086"}})
}

func newMetricsServer() *http.Server {
	s := http.Server{Addr: ":9100"}
	go s.ListenAndServe()
	return &s
}

func stop(ctx context.Context, s *http.Server) { s.Shutdown(ctx) }

var exitHooks []func()

func onExit(f func()) { exitHooks = append(exitHooks, f) }

// Exported, but a main package has no importers to shut it down.
func NewAdmin() *http.Server {
	return &http.Server{Addr: ":9999"} // want `this http.Server \(Addr: ":9999"\) is never shut down`
}

// The context is re-derived with a deadline before Shutdown: fine.
func rederived(srv *http.Server) {
	ctx := context.Background()
	ctx, cancel := context.WithTimeout(ctx, 25*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}
