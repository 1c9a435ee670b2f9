// Package svc stands in for github.com/judwhite/go-svc: Run starts a
// program and stops it on the signals it is given.
package svc

import "os"

type Environment interface{ IsWindowsService() bool }

type Service interface {
	Init(Environment) error
	Start() error
	Stop() error
}

func Run(service Service, sig ...os.Signal) error { return nil }
