// Package chi is a stub of go-chi/chi/v5.
package chi

import "net/http"

type Mux struct{}

func NewRouter() *Mux                                     { return &Mux{} }
func (*Mux) Get(pattern string, h http.HandlerFunc)       {}
func (*Mux) Post(pattern string, h http.HandlerFunc)      {}
func (*Mux) Handle(pattern string, h http.Handler)        {}
func (*Mux) ServeHTTP(http.ResponseWriter, *http.Request) {}
