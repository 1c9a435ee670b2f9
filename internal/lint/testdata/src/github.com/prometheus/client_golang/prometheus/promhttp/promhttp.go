// Package promhttp is a stub of client_golang's promhttp.
package promhttp

import "net/http"

type HandlerOpts struct{}

type Gatherer interface{}

func Handler() http.Handler                                    { return nil }
func HandlerFor(Gatherer, HandlerOpts) http.Handler            { return nil }
func InstrumentHandlerDuration(any, http.Handler) http.Handler { return nil }
