package smoke

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"dagger/go-image/internal/sandbox"
)

// TestRunnersLeaveNothingWhenKilled starts a long-running service with each
// runner in a child process (this test binary), then SIGKILLs that child,
// as a cancelled CI job or the OOM killer kills go-image: no code of
// go-image's runs any more, yet no container may keep running the image's
// code on the host, and the extracted image may not stay on disk.
func TestRunnersLeaveNothingWhenKilled(t *testing.T) {
	if os.Getenv(orphanHelperEnv) != "" {
		orphanHelper(t)
		return
	}
	for name := range runners(t) {
		t.Run(name, func(t *testing.T) {
			// Not t.TempDir, whose parent only this user may enter: the
			// sandbox's user enters the bundle through dir.
			dir, err := os.MkdirTemp("", "go-image-reaper-test-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { removeTree(dir) })
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			snoopImage(t, "65532:65532") // built here, once, not in the child
			cmd := exec.Command(os.Args[0], "-test.run=^TestRunnersLeaveNothingWhenKilled$", "-test.v")
			cmd.Env = append(os.Environ(), orphanHelperEnv+"="+name+":"+dir)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			sc := bufio.NewScanner(out)
			var id string
			var said []string
			for sc.Scan() {
				said = append(said, sc.Text())
				if strings.HasPrefix(sc.Text(), "SKIPPED ") {
					t.Skip(sc.Text())
				}
				if v, ok := strings.CutPrefix(sc.Text(), "STARTED "); ok {
					id = v
					break
				}
			}
			if id == "" {
				t.Fatalf("the child started no service:\n%s", strings.Join(said, "\n"))
			}
			var state func() error
			if name == "runc" {
				runc, _ := exec.LookPath("runc")
				state = func() error { return exec.Command(runc, "state", id).Run() }
				t.Cleanup(func() { _ = exec.Command(runc, "delete", "--force", id).Run() })
				for start := time.Now(); state() != nil; time.Sleep(20 * time.Millisecond) {
					if time.Since(start) > 10*time.Second {
						t.Fatalf("runc state %s: %v: the container should run", id, state())
					}
				}
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			deadline := time.Now().Add(10 * time.Second)
			for state != nil && state() == nil && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if state != nil && state() == nil {
				t.Errorf("container %s still runs 10s after go-image was killed", id)
			}
			for time.Now().Before(deadline) {
				if ents, _ := os.ReadDir(dir); len(ents) == 0 {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			ents, _ := os.ReadDir(dir)
			t.Errorf("left behind after go-image was killed: %v", ents)
		})
	}
}

const orphanHelperEnv = "GOIMAGE_TEST_ORPHAN"

// orphanHelper is the child of TestRunnersLeaveNothingWhenKilled: it starts
// the service, says which bundle runs it, and waits to be killed.
func orphanHelper(t *testing.T) {
	name, dir, _ := strings.Cut(os.Getenv(orphanHelperEnv), ":")
	var r Runner = ProcessRunner{TempDir: dir}
	if name == "runc" {
		r = RuncRunner{TempDir: dir}
	}
	img := snoopImage(t, "65532:65532", "SNOOP_LISTEN=127.0.0.1:8080")
	_, err := r.Start(context.Background(), img, DefaultConfig())
	if errors.Is(err, sandbox.ErrUnavailable) {
		fmt.Printf("SKIPPED %v\n", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("want one bundle in %s: %v %v", dir, ents, err)
	}
	fmt.Printf("STARTED %s\n", ents[0].Name())
	time.Sleep(time.Minute)
	t.Fatal("not killed")
}
