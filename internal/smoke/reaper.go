package smoke

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"dagger/go-image/internal/childenv"
)

// reaperName is argv[0] of the reaper: this binary, re-executed.
const reaperName = "go-image-smoke-reaper"

func init() {
	if len(os.Args) >= 2 && os.Args[0] == reaperName {
		reap(os.Args[1], os.Args[2:])
	}
}

// startReaper starts the process that removes bundle (the extracted image)
// and, given runc and a container id, deletes that container first, once
// this process closes its lifeline or dies. Killed (a cancelled CI job,
// the OOM killer), go-image runs no cleanup: a container that runc
// started outlives runc (runc sets it no parent-death signal) and runs the
// image's code on the host until somebody deletes it, and an extracted
// image (up to MaxRootfsBytes) stays in TMPDIR. The reaper is in a session
// of its own, out of the reach of a signal to go-image's process group.
// reaped closes the lifeline and waits for the reaper's work.
func startReaper(bundle string, env []string, runc ...string) (reaped func(), err error) {
	lr, lw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        append([]string{reaperName, bundle}, runc...),
		Env:         env,
		ExtraFiles:  []*os.File{lr},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	lr.Close()
	if err != nil {
		lw.Close()
		return nil, fmt.Errorf("smoke: start the process that cleans up if go-image dies: %w", err)
	}
	return func() {
		lw.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	}, nil
}

// reap is the reaper (startReaper): it waits for the lifeline on fd 3 to
// close, then deletes the container runc[1] with the runc binary runc[0]
// (killing what still runs in it), and removes bundle.
func reap(bundle string, runc []string) {
	lifeline := os.NewFile(3, "lifeline")
	_, _ = io.Copy(io.Discard, lifeline)
	if len(runc) == 2 {
		del := exec.Command(runc[0], "delete", "--force", runc[1])
		// The reaper was given the allowlisted environment; filtered again
		// here so that stays true whoever starts it.
		del.Env = childenv.Tool(os.Environ())
		_ = del.Run()
	}
	removeTree(bundle)
	os.Exit(0)
}
