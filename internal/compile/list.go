package compile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"dagger/go-image/internal/childenv"
	"dagger/go-image/internal/recipe"
)

// List runs a go list command line (argv, e.g. mains.ListArgs) in the
// module dir and returns its standard output (see goList).
func List(ctx context.Context, dir string, argv []string) ([]byte, error) {
	if len(argv) < 2 || argv[0] != "go" || argv[1] != "list" {
		return nil, fmt.Errorf("compile.List runs go list, not %q", argv)
	}
	out, err := goList(ctx, dir, argv[2:])
	if err != nil {
		return nil, fmt.Errorf("list the main packages in %s (go list): %w", dir, err)
	}
	return out, nil
}

// goList runs go list with args in dir and returns its standard output;
// an error carries its standard error. CGO_ENABLED=1, so that cgo files
// are listed rather than silently left out; -mod=readonly, so that
// listing never rewrites go.mod.
func goList(ctx context.Context, dir string, args []string) ([]byte, error) {
	return goListEnv(ctx, dir, []string{"CGO_ENABLED=1", "GOFLAGS=-mod=readonly"}, args)
}

// goListEnv is goList with env added to the go command's environment.
func goListEnv(ctx context.Context, dir string, env, args []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	cmd.Env = childenv.Go(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// BuildBatch runs a batch's go build in the module dir (recipe.Batches),
// which writes its binaries into the directory the batch was made for.
// The batch's packages are main packages go list has diagnosed already
// (mains.Expand). env is added to the go command's environment (a
// GOCACHEPROG, for --build-cache), as in Build.
func BuildBatch(ctx context.Context, dir string, b recipe.Batch, env ...string) error {
	mains := make([]string, len(b.Options))
	for i, o := range b.Options {
		mains[i] = o.Main
	}
	c := b.Command
	c.Env = slices.Concat(c.Env, env)
	return buildChecked(ctx, dir, c, b.Options[0].Packages().Args, mains, strings.Join(mains, " "))
}

// buildChecked runs the go build command c in dir beside the check of
// what it compiles (HostReads over HostReadArgs with the build's flags
// and its main packages): the check decides whether the build's output
// may be shown, and whether its binary may be used. Side by side, the
// check costs the build no time.
func buildChecked(ctx context.Context, dir string, c recipe.Command, flags, mains []string, what string) error {
	checked := make(chan error, 1)
	go func() {
		argv := HostReadArgs(flags, mains)
		out, err := goListEnv(ctx, dir, c.Env, argv[2:])
		if err != nil {
			checked <- fmt.Errorf("list what the build reads (go list -deps): %w", err)
			return
		}
		checked <- HostReads(dir, out)
	}()
	err := goBuild(ctx, dir, c, what)
	if cerr := <-checked; cerr != nil {
		return fmt.Errorf("compile %s: %w", what, cerr)
	}
	return err
}

// goBuild runs a go build command line in dir. Its output goes into the
// error, not to a log: go build is silent on success, and on failure the
// error must carry the cause by itself.
func goBuild(ctx context.Context, dir string, c recipe.Command, what string) error {
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Dir = dir
	cmd.Env = childenv.Go(os.Environ(), c.Env...)
	var combined bytes.Buffer
	cmd.Stdout = &combined
	cmd.Stderr = &combined
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("compile %s: go build failed:\n%s", what, strings.TrimSpace(combined.String()))
		}
		return fmt.Errorf("compile %s: %w (is the go command on PATH?)", what, err)
	}
	return nil
}
