// Command httpdrain returns from main while Shutdown is still draining:
// Serve returns http.ErrServerClosed as soon as Shutdown starts.
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	srv := &http.Server{Addr: ":8080"}
	go shutdownOnSignal(srv)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed { // want `main returns as soon as srv.ListenAndServe returns.*wait for Shutdown to return before main exits`
		log.Print(err)
	}
}

func shutdownOnSignal(srv *http.Server) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
}
