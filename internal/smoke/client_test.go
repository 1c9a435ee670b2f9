package smoke

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runScript runs ClientScript the way the Dagger module's client container
// does, against a service on loopback.
func runScript(t *testing.T, cfg Config, phase, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartupBudget+cfg.Grace+20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", ClientScript)
	for k, v := range ClientEnv(cfg, "127.0.0.1", phase) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "PATH="+path)
	if strings.HasPrefix(path, os.TempDir()) {
		cmd.Path = filepath.Join(path, "sh") // busybox sh, not the host's
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client script %s: %v\n%s", phase, err, out)
	}
	return string(out)
}

// The Dagger path, without Dagger: a service run by the process runner,
// observed only through ClientScript and host uptime, judged by Evaluate.
// The exit status is invisible on that path, so sigterm-exit cannot tell a
// clean exit from a kill there; the drain and readiness checks still catch
// a missing SIGTERM handler.
func TestClientScript(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("SKIPPED: needs linux (/proc/uptime)")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("SKIPPED: curl is not installed (apt-get install curl); the Dagger client container installs it itself")
	}
	// The client container is alpine: busybox sh and applets, plus curl.
	// Where busybox is installed, run the script under it too.
	busybox := busyboxPath(t)
	tests := []struct {
		dir     string
		busybox bool
		fail    []string
	}{
		{"service", false, nil},
		{"service", true, nil},
		{"k8s/no-sigterm", false, []string{"sigterm-drain", "sigterm-readiness"}},
		{"k8s/no-sigterm", true, []string{"sigterm-drain", "sigterm-readiness"}},
		{"k8s/readiness-always-200", false, []string{"readiness", "sigterm-readiness"}},
		{"k8s/health-on-business-port", false, []string{"health-independent"}},
	}
	for _, tt := range tests {
		name, path := tt.dir, "/usr/local/bin:/usr/bin:/bin"
		if tt.busybox {
			name += "/busybox"
			path = busybox
		}
		t.Run(name, func(t *testing.T) {
			if path == "" {
				t.Skip("SKIPPED: busybox is not installed (apt-get install busybox): the script is not checked under alpine's shell")
			}
			img := image(t, tt.dir)
			t.Parallel()
			cfg := DefaultConfig()
			started, err := Uptime()
			if err != nil {
				t.Fatal(err)
			}
			p, err := ProcessRunner{}.Start(context.Background(), img, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			// The script addresses the service by its own ports.
			sc := cfg
			sc.BusinessPort, sc.ProbePort = portOf(t, p.Info().BusinessAddr), portOf(t, p.Info().ProbeAddr)
			run := ClientRun{Runner: "client script", Started: started, Grace: cfg.Grace}
			run.Start = runScript(t, sc, "start", path)
			term := make(chan string, 1)
			go func() { term <- runScript(t, sc, "term", path) }()
			time.Sleep(time.Second)
			run.TermSent, _ = Uptime()
			if err := p.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.Done():
			case <-time.After(cfg.Grace):
				run.StopErr = context.DeadlineExceeded
			}
			run.Stopped, _ = Uptime()
			run.Term = <-term
			obs := run.Observe(cfg)
			rs := Evaluate(cfg, obs)
			wantStatuses(t, rs, tt.fail)
			for _, r := range rs {
				t.Logf("[%s] %s: %s %v", r.Status, r.ID, r.Message, r.Metrics)
			}
			if t.Failed() {
				t.Logf("start phase:\n%s\nterm phase:\n%s", run.Start, run.Term)
			}
		})
	}
}

// busyboxPath returns a directory whose sh, awk, cut, tr, base64, sleep and
// cat are busybox applets and whose curl is the host's, or "".
func busyboxPath(t *testing.T) string {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return ""
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		return ""
	}
	dir := t.TempDir()
	for _, applet := range []string{"sh", "awk", "cut", "tr", "base64", "sleep", "cat"} {
		if err := os.Symlink(bb, filepath.Join(dir, applet)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(curl, filepath.Join(dir, "curl")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func portOf(t *testing.T, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}
