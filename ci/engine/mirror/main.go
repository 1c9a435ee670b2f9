// Command mirror serves the engine's docker.io mirror with go-image's
// stand-in images (internal/e2e/standin), to run the module by hand on a
// machine that cannot reach Docker Hub:
//
//	eval "$(sudo ci/engine/engine.sh start)"
//	go run ./ci/engine/mirror -trivy "$GOIMAGE_TRIVY" &
//	dagger call -m . --source=./testdata/service tarball export --path=service.tar
//
// The engine tests (internal/e2e) start their own.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"dagger/go-image/internal/e2e/standin"
	"dagger/go-image/internal/trivy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5000,10.89.0.1:5000", "comma-separated listen addresses: the engine's mirror (loopback) and the bridge address containers reach")
	goTags := flag.String("go-tags", "1.24-alpine,1.26-alpine", "golang tags to serve this machine's Go under")
	alpineTags := flag.String("alpine-tags", "3.22", "alpine tags")
	trivyBin := flag.String("trivy", os.Getenv("GOIMAGE_TRIVY"), "trivy binary for the aquasec/trivy stand-in (empty: none)")
	trivyDB := flag.String("trivy-db", "", "Trivy cache directory (DIR/db/trivy.db, metadata.json) to serve as aquasecurity/trivy-db:2, e.g. from internal/tools/trivydbfixture")
	flag.Parse()
	m, err := standin.ServeMirror(strings.Split(*listen, ",")...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = m.Fill(ctx, standin.MirrorOptions{
		GoTags: split(*goTags), AlpineTags: split(*alpineTags),
		Trivy: *trivyBin, TrivyTag: strings.TrimPrefix(trivy.PinnedVersion, "v"), TrivyDBCache: *trivyDB, Log: os.Stderr,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "mirror: serving on %s\n", strings.Join(m.Addrs, ", "))
	<-ctx.Done()
	m.Close()
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
