// Package gin is a stub of gin-gonic/gin.
package gin

import "net/http"

type Context struct{}

type HandlerFunc func(*Context)

type Engine struct{}

func New() *Engine                                           { return &Engine{} }
func (*Engine) GET(path string, h ...HandlerFunc)            {}
func (*Engine) POST(path string, h ...HandlerFunc)           {}
func (*Engine) Handle(method, path string, h ...HandlerFunc) {}
func (*Engine) ServeHTTP(http.ResponseWriter, *http.Request) {}
