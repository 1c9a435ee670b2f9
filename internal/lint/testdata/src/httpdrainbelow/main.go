// Command httpdrainbelow serves from the functions main exits after: a
// mitchellh/cli command's Run, a cobra RunE, an urfave/cli Action, and a
// run() that main calls last. Each returns when ListenAndServe returns
// http.ErrServerClosed, while Shutdown is still draining in a goroutine.
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mitchellh/cli"
	"github.com/spf13/cobra"
	urfave "github.com/urfave/cli/v2"
)

func main() {
	if err := waited(); err != nil {
		log.Print(err)
	}
	<-time.After(time.Second) // main waits after waited(), not after run()
	c := cli.NewCLI("app", "1")
	c.Commands = map[string]cli.CommandFactory{
		"serve": func() (cli.Command, error) { return &serveCommand{}, nil },
		"sync":  func() (cli.Command, error) { return &syncCommand{}, nil },
	}
	status, _ := c.Run()
	_ = newServeCmd().Execute()
	_ = newDrainedCmd().Execute()
	_ = (&urfave.App{Action: serveAction}).Run(os.Args)
	if err := run(); err != nil {
		log.Print(err)
	}
	os.Exit(status)
}

func shutdownOnSignal(srv *http.Server) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
}

// run is the last thing main does before it ends.
func run() error {
	srv := &http.Server{Addr: ":8081"}
	go shutdownOnSignal(srv)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed { // want `main.run, after which main exits, returns as soon as srv.ListenAndServe returns.*the program exits and cuts the in-flight requests`
		return err
	}
	return nil
}

// waited is followed by a wait in main: not a finding.
func waited() error {
	srv := &http.Server{Addr: ":8082"}
	go shutdownOnSignal(srv)
	return srv.ListenAndServe()
}

type serveCommand struct{}

func (c *serveCommand) Help() string     { return "serve" }
func (c *serveCommand) Synopsis() string { return "serve" }

// Run returns on ErrServerClosed, and its deferred cancel cancels the very
// context Shutdown drains with.
func (c *serveCommand) Run(args []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	srv := &http.Server{Addr: ":8443"}
	trap := make(chan os.Signal, 1)
	signal.Notify(trap, syscall.SIGTERM)
	go func() {
		<-trap
		srv.Shutdown(ctx)
	}()
	if err := srv.ListenAndServe(); err != nil { // want `main.serveCommand.Run \(a mitchellh/cli command: main exits with its status\) returns as soon as srv.ListenAndServe returns.*; and its deferred cancel\(\) then cancels ctx, the context Shutdown drains with`
		return 1
	}
	return 0
}

type syncCommand struct{}

func (c *syncCommand) Help() string     { return "sync" }
func (c *syncCommand) Synopsis() string { return "sync" }

// Run shuts down itself after the signal: fine.
func (c *syncCommand) Run(args []string) int {
	srv := &http.Server{Addr: ":8444"}
	go srv.ListenAndServe()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return 0
}

func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use: "serve",
		RunE: func(cmd *cobra.Command, args []string) error {
			srv := &http.Server{Addr: ":8080"}
			go shutdownOnSignal(srv)
			return srv.ListenAndServe() // want `the RunE of a cobra.Command \(Execute, then main, return with it\) returns as soon as srv.ListenAndServe returns`
		},
	}
}

// The RunE waits for the goroutine that shuts down: fine.
func newDrainedCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "drained"}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		srv := &http.Server{Addr: ":8090"}
		done := make(chan struct{})
		go func() {
			defer close(done)
			shutdownOnSignal(srv)
		}()
		err := srv.ListenAndServe()
		<-done
		return err
	}
	return cmd
}

func serveAction(c *urfave.Context) error {
	srv := &http.Server{Addr: ":8091"}
	go shutdownOnSignal(srv)
	return srv.ListenAndServe() // want `main.serveAction, the Action of a urfave/cli command \(main exits after it\), returns as soon as srv.ListenAndServe returns`
}
