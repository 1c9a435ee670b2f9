// Package manager is a stub of controller-runtime's manager: runnables
// added to it are stopped by it.
package manager

import (
	"context"
	"net/http"
)

type Server struct {
	Name   string
	Server *http.Server
}

type Manager interface {
	Add(runnable any) error
	Start(ctx context.Context) error
}
