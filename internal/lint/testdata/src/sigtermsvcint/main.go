// Command sigtermsvcint hands a dependency SIGINT alone: the kubelet's
// SIGTERM still kills it mid-request.
package main

import (
	"context"
	"syscall"

	svc "github.com/judwhite/go-svc"

	"sigtermapi"
)

type program struct{ stop context.CancelFunc }

func (p *program) Init(svc.Environment) error { return nil }

func (p *program) Start() error {
	ctx, stop := context.WithCancel(context.Background())
	p.stop = stop
	go sigtermapi.Serve(ctx)
	return nil
}

func (p *program) Stop() error { p.stop(); return nil }

func main() { svc.Run(&program{}, syscall.SIGINT) } // want `this program serves HTTP \(the http.Server \(Addr: ":8080"\) at api.go:\d+ \(package sigtermapi\)\) and nothing in it handles SIGTERM`
