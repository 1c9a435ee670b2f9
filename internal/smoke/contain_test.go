package smoke

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/assemble"
	"dagger/go-image/internal/imagetest"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/sandbox"
	"dagger/go-image/internal/sandbox/sandboxtest"
)

// snoopImage is the hostile service (sandboxtest) built as go-image builds
// an image, with the given USER and extra env.
func snoopImage(t *testing.T, user string, env ...string) v1.Image {
	t.Helper()
	o, err := recipe.Options{Main: ".", Name: "snoop"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	o.Platform = "linux/" + runtime.GOARCH
	img, err := assemble.Image(assemble.Base{}, o, sandboxtest.Snoop(t))
	if err != nil {
		t.Fatal(err)
	}
	return imagetest.Config(t, img, func(c *v1.Config) {
		c.User = user
		c.Env = append(c.Env, env...)
	})
}

// runners are the local runners this machine can run.
func runners(t *testing.T) map[string]Runner {
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: the local runners run linux images")
	}
	rs := map[string]Runner{"process": ProcessRunner{}}
	if RuncAvailable() == "" {
		rs["runc"] = RuncRunner{}
	} else {
		t.Logf("runc runner not tested: %s", RuncAvailable())
	}
	return rs
}

// run starts img with r and waits for it to exit.
func run(t *testing.T, r Runner, img v1.Image) Process {
	t.Helper()
	p, err := r.Start(context.Background(), img, DefaultConfig())
	if errors.Is(err, sandbox.ErrUnavailable) {
		t.Skipf("SKIPPED: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("still running after 30s:\n%s", strings.Join(p.Output(), "\n"))
	}
	return p
}

// TestRunnersContainTheService runs a service that, in its init, goes for
// the release's secrets (this process's environment, a key file), the
// host's files, processes and network, and root; through each runner, with
// and without a USER. It gets nothing, and never runs as root.
func TestRunnersContainTheService(t *testing.T) {
	bait := sandboxtest.NewBait(t)
	for name, r := range runners(t) {
		for _, user := range []string{"65532:65532", "", "root"} {
			t.Run(name+"/USER="+user, func(t *testing.T) {
				p := run(t, r, snoopImage(t, user, bait.Env()...))
				info := p.Info().Runner
				t.Logf("runner: %s", info)
				bait.Check(t, sandboxtest.Parse(t, p.Output()), sandbox.NonRoot, sandbox.NonRoot)
				if user != "65532:65532" && !strings.Contains(info, "never as root") {
					t.Errorf("the report does not say the image's root user was replaced: %s", info)
				}
			})
		}
	}
}

// TestRunnersKeepTheHostKeyring plants the key password in the user
// keyring of the host uid each runner runs the service as (a host program
// of that uid can, with keyctl): the kernel shares a uid's user keyring
// between all its processes in one user namespace, so a service that is not
// in a user namespace of its own links it into its session keyring and
// reads it. It must read nothing.
func TestRunnersKeepTheHostKeyring(t *testing.T) {
	for name, r := range runners(t) {
		t.Run(name, func(t *testing.T) {
			bait := sandboxtest.NewBait(t)
			hostUID, hostGID := sandbox.NonRoot, sandbox.NonRoot
			if _, ok := r.(ProcessRunner); ok {
				hostUID, hostGID, _ = sandbox.HostOwner(sandbox.NonRoot, sandbox.NonRoot)
			}
			bait.PlantKeyring(t, hostUID, hostGID)
			p := run(t, r, snoopImage(t, "65532:65532", bait.Env()...))
			rep := sandboxtest.Parse(t, p.Output())
			bait.Check(t, rep, sandbox.NonRoot, sandbox.NonRoot)
			t.Logf("keyring: %q, %s", rep.Keyring, rep.Errors["read the user keyring"])
		})
	}
}

// TestRunnersContainHostileLayers: the symlink-escape and hard-link re-own
// layers, on a runnable image, through each runner: the host directory
// they aim at is untouched, whether the image starts or is refused.
func TestRunnersContainHostileLayers(t *testing.T) {
	s := newSentinel(t)
	layers := map[string][]entry{
		"symlink escape":   {sym("s", s.dir), reg("s/pwned", "x"), dir("s/d")},
		"hard link re-own": {sym("s", s.dir), hard("h", "s/victim")},
		"hard link out":    {hard("h", strings.Repeat("../", 12)+strings.TrimPrefix(s.dir, "/")+"/victim")},
	}
	for name, r := range runners(t) {
		for lname, l := range layers {
			t.Run(name+"/"+lname, func(t *testing.T) {
				img := withLayers(t, snoopImage(t, "65532:65532"), l)
				p, err := r.Start(context.Background(), img, DefaultConfig())
				if errors.Is(err, sandbox.ErrUnavailable) {
					t.Skipf("SKIPPED: %v", err)
				}
				t.Logf("start: %v", err)
				if err == nil {
					<-p.Done()
					p.Close()
				}
				s.untouched(t)
			})
		}
	}
}

// TestRuncGetsNoSecrets runs the runc runner with a stand-in runc that
// prints its environment: the registry token and key password of this
// process are not in it.
func TestRuncGetsNoSecrets(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: the runc runner needs root")
	}
	bait := sandboxtest.NewBait(t)
	bin := filepath.Join(t.TempDir(), "runc")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n[ \"$1\" = run ] && env\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := run(t, RuncRunner{Runc: bin}, snoopImage(t, "65532:65532"))
	out := strings.Join(p.Output(), "\n")
	if !strings.Contains(out, "PATH=") {
		t.Fatalf("the stand-in printed no environment:\n%s", out)
	}
	if strings.Contains(out, bait.Token) || strings.Contains(out, bait.Password) {
		t.Errorf("runc got this process's secrets:\n%s", out)
	}
}
