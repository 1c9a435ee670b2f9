package smoke

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RuncRunner runs the image under runc (Debian package runc), closer to a
// pod than ProcessRunner: its own PID, mount, IPC and UTS namespaces, the
// image's user (65532 for go-image images), no capabilities,
// no_new_privs, a read-only root filesystem with a tmpfs /tmp (as the
// generated manifest mounts it). The network namespace is the host's, so
// the service is moved to free loopback ports through the declared env
// variables, as with ProcessRunner. Needs root.
type RuncRunner struct {
	// Runc is the runc binary ("" looks up runc on PATH).
	Runc    string
	TempDir string
}

// RuncAvailable says why RuncRunner cannot run here, or "" if it can.
func RuncAvailable() string {
	if _, err := exec.LookPath("runc"); err != nil {
		return "runc is not installed (apt-get install runc)"
	}
	if os.Geteuid() != 0 {
		return "runc needs root"
	}
	return ""
}

// Start implements Runner.
func (r RuncRunner) Start(ctx context.Context, img v1.Image, cfg Config) (Process, error) {
	bin := r.Runc
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("runc"); err != nil {
			return nil, fmt.Errorf("runc runner: %w (install the runc package, or use the process runner)", err)
		}
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("runc runner: needs root; use the process runner")
	}
	cf, argv, businessPort, probePort, env, err := launch(img, cfg)
	if err != nil {
		return nil, err
	}
	bundle, err := os.MkdirTemp(r.TempDir, "go-image-runc-")
	if err != nil {
		return nil, err
	}
	id := filepath.Base(bundle)
	cleanup := func() {
		// A container left behind (runc killed) must not pin the bundle.
		_ = exec.Command(bin, "delete", "--force", id).Run()
		os.RemoveAll(bundle)
	}
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		cleanup()
		return nil, err
	}
	if err := extract(img, rootfs, true); err != nil {
		cleanup()
		return nil, err
	}
	uid, gid, err := identity(rootfs, cf.Config.User)
	if err != nil {
		cleanup()
		return nil, err
	}
	for _, d := range []string{"proc", "dev", "tmp", "sys"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			cleanup()
			return nil, err
		}
	}
	workdir := cf.Config.WorkingDir
	if workdir == "" {
		workdir = "/"
	}
	spec := runcSpec(argv, append(append([]string(nil), cf.Config.Env...), env...), workdir, uid, gid)
	b, _ := json.MarshalIndent(spec, "", "  ")
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		cleanup()
		return nil, err
	}
	// Foreground runc forwards the signals it receives to the container's
	// process and exits with its status (128+n when signal n killed it).
	cmd := exec.Command(bin, "run", "--bundle", bundle, id)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw, err := os.Pipe()
	if err != nil {
		cleanup()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.Stdin = nil
	p := &process{
		info: Info{
			Runner:       fmt.Sprintf("runc (%s: own pid/mount/ipc/uts namespaces, uid %d gid %d, no capabilities, read-only root, tmpfs /tmp; host network)", filepath.Base(bin), uid, gid),
			BusinessAddr: fmt.Sprintf("127.0.0.1:%d", businessPort), ProbeAddr: fmt.Sprintf("127.0.0.1:%d", probePort),
		},
		cmd: cmd, done: make(chan struct{}), cleanup: cleanup, statusIsRunc: true,
	}
	p.info.Started = time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		cleanup()
		return nil, fmt.Errorf("start runc: %w", err)
	}
	pw.Close()
	go p.collect(pr)
	go p.wait()
	return p, nil
}

// runcSpec is a minimal OCI runtime config: the fields runc needs, and the
// restrictions a restricted pod would have.
func runcSpec(args, env []string, cwd string, uid, gid uint32) map[string]any {
	none := []string{}
	return map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"terminal": false,
			"user":     map[string]any{"uid": uid, "gid": gid},
			"args":     args,
			"env":      env,
			"cwd":      cwd,
			"capabilities": map[string]any{
				"bounding": none, "effective": none, "permitted": none, "ambient": none,
			},
			"noNewPrivileges": true,
			"rlimits":         []map[string]any{{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}},
		},
		"root":     map[string]any{"path": "rootfs", "readonly": true},
		"hostname": "smoke",
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc"},
			{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "nodev", "mode=1777", "size=65536k"}},
			{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		"linux": map[string]any{
			"namespaces": []map[string]string{{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}},
			"maskedPaths": []string{"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
				"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"},
			"readonlyPaths": []string{"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// runcExit turns runc's exit status into the container process's.
func runcExit(e Exit) Exit {
	if e.Signal == "" && e.Code > 128 && e.Code < 128+65 {
		e.Signal = "signal " + strings.ToLower(syscall.Signal(e.Code-128).String())
		e.Code = -1
	}
	return e
}
