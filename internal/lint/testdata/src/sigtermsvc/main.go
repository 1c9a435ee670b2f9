// Command sigtermsvc hands SIGTERM to a dependency that catches the
// signals it is given, as nsq's daemons do with go-svc: fine.
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

func main() { svc.Run(&program{}, syscall.SIGINT, syscall.SIGTERM) }
