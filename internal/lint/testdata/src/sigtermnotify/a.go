// Package sigtermnotify sets up shutdowns on signals: on Ctrl-C only (a
// pod never gets it), and on SIGTERM.
package sigtermnotify

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

var (
	interruptOnly   = []os.Signal{os.Interrupt}
	shutdownSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}
)

func Trap(ctx context.Context) {
	trap := make(chan os.Signal, 1)
	signal.Notify(trap, os.Interrupt)                           // want `signal.Notify\(trap, os.Interrupt\) sets up a shutdown that SIGTERM never triggers: Kubernetes stops a pod with SIGTERM`
	signal.Notify(trap, syscall.SIGINT)                         // want `signal.Notify\(trap, syscall.SIGINT\) sets up a shutdown that SIGTERM never triggers`
	signal.Notify(trap, interruptOnly...)                       // want `signal.Notify\(trap, interruptOnly...\) sets up a shutdown that SIGTERM never triggers`
	_, stop := signal.NotifyContext(ctx, os.Interrupt, os.Kill) // want `sets up a shutdown that SIGTERM never triggers \(os.Kill is SIGKILL, which no process can catch\)`
	defer stop()

	// Fine: SIGTERM caught, every signal caught, a reload handler, a list
	// built at run time.
	signal.Notify(trap, os.Interrupt, syscall.SIGTERM)
	signal.Notify(trap, os.Signal(syscall.SIGTERM))
	signal.Notify(trap, shutdownSignals...)
	signal.Notify(trap)
	signal.Notify(trap, syscall.SIGHUP)
	signal.Notify(trap, fromFlags()...)
}

func fromFlags() []os.Signal { return nil }
