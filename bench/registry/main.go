// Command registry is the benchmark's loopback registry and image inspector.
//
//	registry serve -addr 127.0.0.1:0 -ready FILE   # serve until SIGTERM; write host:port to FILE
//	registry inspect REF                            # print: digest stored-bytes layers
//
// serve also pushes base/static:latest, an empty linux/amd64 OCI image (the
// scratch equivalent), so ko has a base without reaching cgr.dev.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"dagger/go-image/internal/assemble"
	"dagger/go-image/internal/recipe"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: registry serve|inspect ...")
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "inspect":
		err = inspect(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q: use serve or inspect", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	ready := fs.String("ready", "", "file to write host:port to once the base image is pushed")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(ln)
	host := ln.Addr().String()
	base, err := assemble.Scratch(recipe.Platform{OS: "linux", Arch: "amd64"})
	if err != nil {
		return err
	}
	ref, err := name.ParseReference(host + "/base/static:latest")
	if err != nil {
		return err
	}
	if err := remote.Write(ref, base); err != nil {
		return fmt.Errorf("push base: %w", err)
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte(host), 0o644); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
	if err := srv.Shutdown(context.Background()); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// inspect prints the digest, the bytes a registry stores for the image
// (manifest + config + compressed layers) and the layer count.
func inspect(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: registry inspect REF")
	}
	ref, err := name.ParseReference(args[0])
	if err != nil {
		return err
	}
	img, err := remote.Image(ref)
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	total := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	fmt.Printf("%s %d %d\n", d, total, len(m.Layers))
	return nil
}
