package smoke

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
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

func randomSecret() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "s3cr3t-" + hex.EncodeToString(b)
}

// TestRunnersContainTheService runs a service that, in its init, goes for
// the release's secrets (this process's environment, a key file), the
// host's files, processes and network, and root; through each runner, with
// and without a USER. It gets nothing, and never runs as root.
func TestRunnersContainTheService(t *testing.T) {
	token, password, keyData := randomSecret(), randomSecret(), randomSecret()
	t.Setenv("REGISTRY_TOKEN", token)
	t.Setenv("COSIGN_PASSWORD", password)
	host, err := os.MkdirTemp("", "go-image-smoke-host-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(host)
	key := filepath.Join(host, "cosign.key")
	if err := os.WriteFile(key, []byte(keyData), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(host, 0o777); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var reached atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			c.Close()
		}
	}()
	env := []string{"SNOOP_KEY=" + key, "SNOOP_WRITE=" + host, "SNOOP_DIAL=" + ln.Addr().String()}
	for name, r := range runners(t) {
		for _, user := range []string{"65532:65532", "", "root"} {
			t.Run(name+"/USER="+user, func(t *testing.T) {
				p := run(t, r, snoopImage(t, user, env...))
				rep := sandboxtest.Parse(t, p.Output())
				info := p.Info().Runner
				t.Logf("runner: %s", info)
				if rep.UID != sandbox.NonRoot || rep.EUID != sandbox.NonRoot || rep.GID != sandbox.NonRoot {
					t.Errorf("ran as uid %d euid %d gid %d, want 65532", rep.UID, rep.EUID, rep.GID)
				}
				if user != "65532:65532" && !strings.Contains(info, "never as root") {
					t.Errorf("the report does not say the image's root user was replaced: %s", info)
				}
				if strings.Trim(rep.Status["CapEff"], "0") != "" || strings.Trim(rep.Status["CapBnd"], "0") != "" || rep.Status["NoNewPrivs"] != "1" {
					t.Errorf("privileges: %v", rep.Status)
				}
				if rep.Pid != 1 || !slices.Equal(rep.Pids, []string{"1"}) {
					t.Errorf("pid %d, /proc lists %v: want PID 1 alone in its PID namespace", rep.Pid, rep.Pids)
				}
				for pid, e := range rep.Environ {
					if strings.Contains(e, token) || strings.Contains(e, password) || strings.Contains(e, "REGISTRY_TOKEN") {
						t.Errorf("the service read this process's secrets in /proc/%s/environ", pid)
					}
				}
				if rep.Key != "" {
					t.Error("the service read the host's key file")
				}
				if !slices.Equal(rep.Wrote, []string{"/tmp/snoop-was-here"}) {
					t.Errorf("wrote %v, want only its tmpfs /tmp", rep.Wrote)
				}
				if rep.Dialed || reached.Load() != 0 {
					t.Error("the service reached a listener on the host's loopback")
				}
				for _, a := range []string{"setuid 0", "chroot", "mount proc"} {
					if rep.Errors[a] == "" {
						t.Errorf("%s succeeded", a)
					}
				}
			})
		}
	}
	if ents, _ := os.ReadDir(host); len(ents) != 1 {
		t.Errorf("the host directory changed: %v", ents)
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
	token, password := randomSecret(), randomSecret()
	t.Setenv("REGISTRY_TOKEN", token)
	t.Setenv("COSIGN_PASSWORD", password)
	bin := filepath.Join(t.TempDir(), "runc")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n[ \"$1\" = run ] && env\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := run(t, RuncRunner{Runc: bin}, snoopImage(t, "65532:65532"))
	out := strings.Join(p.Output(), "\n")
	if !strings.Contains(out, "PATH=") {
		t.Fatalf("the stand-in printed no environment:\n%s", out)
	}
	if strings.Contains(out, token) || strings.Contains(out, password) {
		t.Errorf("runc got this process's secrets:\n%s", out)
	}
}
