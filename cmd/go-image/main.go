// Command go-image is the daemonless executor of go-image: the same recipe
// and gates as the Dagger module, run with the local Go toolchain and
// go-containerregistry, for machines without a container engine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"dagger/go-image/internal/config"
	"dagger/go-image/internal/safetext"
)

// command is one subcommand. run gets the arguments after its name.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"build":    {"compile a Go service and assemble its image tarball", runBuild},
		"config":   {"print each binary's effective choices and where each came from (flag, " + config.FileName + ", default)", runConfig},
		"check":    {"run the size, upx and hardening gates on an image tarball", runCheck},
		"scan":     {"vulnerability gate: Trivy (offline) over an image tarball, go-image's policy", runScan},
		"release":  {"build every platform, run the gates, push only if all pass (+ SBOM, signature, attestations)", runRelease},
		"smoke":    {"run an image tarball and check its Kubernetes behaviour: probes, readiness, SIGTERM drain", runSmoke},
		"manifest": {"render a hardened Deployment + Service for an image pinned by digest", runManifest},
		"lint":     {"go/analysis checks for Kubernetes mistakes in a service's source", runLint},
		"verify":   {"check an image's signature, provenance and signed gate report with a public key", runVerify},

		"cacheprog": {"the GOCACHEPROG program behind --build-cache (the go command runs it)", runCacheprog},
	}
}

func main() {
	// A first SIGINT or SIGTERM cancels ctx: every read and child stops and
	// the command ends with what it has. A second one kills at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "go-image: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		// Errors quote paths, labels, registry answers and compiler
		// output: escaped, newlines kept (safetext.Block).
		msg := safetext.Block(err.Error())
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "go-image %s: %s\n", args[0], msg)
			return 2
		}
		fmt.Fprintf(stderr, "go-image %s: %s\n", args[0], msg)
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: go-image <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun `go-image <command> -h` for a command's flags.")
}

// usageError marks bad command-line input (exit status 2).
type usageError struct{ error }
