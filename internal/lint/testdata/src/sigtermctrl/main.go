// Command sigtermctrl handles SIGTERM through controller-runtime's
// SetupSignalHandler (a variable there): fine.
package main

import (
	"context"
	"net/http"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

func main() {
	ctx := ctrl.SetupSignalHandler()
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
