package main

import (
	"context"
	"net/http"
	"time"
)

type app struct{ srv *http.Server }

func main() {
	http.ListenAndServe(":8080", nil)              // want `http.ListenAndServe gives no handle to shut the server down`
	http.ListenAndServeTLS(":8443", "c", "k", nil) // want `http.ListenAndServeTLS gives no handle`

	leaked := &http.Server{Addr: ":9090"} // want `this http.Server is never shut down`
	go leaked.ListenAndServe()

	bounded := &http.Server{Addr: ":8080"}
	go bounded.ListenAndServe()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	bounded.Shutdown(ctx)

	unbounded := &http.Server{Addr: ":8081"}
	unbounded.Shutdown(context.Background()) // want `Shutdown\(context.Background\(\)\) has no deadline`
	unbounded.Shutdown(context.TODO())       // want `Shutdown\(context.TODO\(\)\) has no deadline`

	a := app{srv: &http.Server{Addr: ":8082"}}
	a.srv.Shutdown(ctx)
	var b app
	b.srv = &http.Server{Addr: ":8083"}
	b.srv.Shutdown(ctx)
}
