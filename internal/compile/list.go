package compile

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"dagger/go-image/internal/childenv"
)

// List runs a go list command line (argv, e.g. mains.ListArgs) in the
// module dir and returns its standard output. CGO_ENABLED=1, so that cgo
// files are listed rather than silently left out; -mod=readonly, so that
// listing never rewrites go.mod.
func List(ctx context.Context, dir string, argv []string) ([]byte, error) {
	if len(argv) < 2 || argv[0] != "go" || argv[1] != "list" {
		return nil, fmt.Errorf("compile.List runs go list, not %q", argv)
	}
	cmd := exec.CommandContext(ctx, "go", argv[1:]...)
	cmd.Dir = dir
	cmd.Env = childenv.Go(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("list the main packages in %s (go list): %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
