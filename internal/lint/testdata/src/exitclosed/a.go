// Package exitclosed exits the process when ListenAndServe returns,
// http.ErrServerClosed included: Shutdown makes it return at once, so the
// exit cuts the drain.
package exitclosed

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"time"
)

func Serve(ctx context.Context) {
	a := &http.Server{Addr: ":9000"}
	go func() {
		if err := a.ListenAndServeTLS("", ""); err != nil { // want `when Shutdown starts, a.ListenAndServeTLS returns http.ErrServerClosed at once, and this code exits the process on it \(log.Fatalf\)`
			log.Fatalf("serve: %v", err)
		}
	}()
	b := &http.Server{Addr: ":9001"}
	go func() {
		log.Fatal(b.ListenAndServe()) // want `b.ListenAndServe returns http.ErrServerClosed at once, and this code exits the process on it \(log.Fatal\)`
	}()
	c := &http.Server{Addr: ":9002"}
	go func() {
		err := c.ListenAndServe() // want `exits the process on it \(os.Exit\)`
		if err != nil {
			log.Print(err)
			os.Exit(1)
		}
	}()
	// ErrServerClosed told apart: fine.
	d := &http.Server{Addr: ":9003"}
	go func() {
		if err := d.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	e := &http.Server{Addr: ":9004"}
	go func() {
		if err := e.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	a.Shutdown(sctx)
	b.Shutdown(sctx)
	c.Shutdown(sctx)
	d.Shutdown(sctx)
	e.Shutdown(sctx)
}

// Never shut down: httpshutdown reports the server, not its exit.
func Metrics() {
	m := &http.Server{Addr: ":9100"} // want `this http.Server \(Addr: ":9100"\) is never shut down`
	go func() {
		if err := m.ListenAndServe(); err != nil {
			log.Fatal(err)
		}
	}()
}
