package smoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/childenv"
	"dagger/go-image/internal/sandbox"
)

// RuncRunner runs the image under runc (Debian package runc), as a pod's
// runtime would: its own PID, mount, IPC, UTS and network namespaces (the
// network one holds a loopback only, which the driver dials into), the
// image's user (never root: 65532 for an image without a non-root USER),
// no capabilities, no_new_privs, a read-only root filesystem with a tmpfs
// /tmp (as the generated manifest mounts it). Needs root.
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
	cf, argv, err := launch(img)
	if err != nil {
		return nil, err
	}
	bundle, err := os.MkdirTemp(r.TempDir, "go-image-runc-")
	if err != nil {
		return nil, err
	}
	id := filepath.Base(bundle)
	// runc gets the allowlisted environment: never a registry token or a
	// key password.
	env := childenv.Tool(os.Environ())
	reaped, err := startReaper(bundle, env, bin, id)
	if err != nil {
		removeTree(bundle)
		return nil, err
	}
	var netns *sandbox.NetNS
	cleanup := func() {
		if netns != nil {
			netns.Close()
		}
		reaped()
	}
	fail := func(err error) (Process, error) {
		cleanup()
		return nil, err
	}
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return fail(err)
	}
	// No user namespace: files keep the image's owners.
	if err := extract(ctx, img, rootfs, func(uid, gid int) (int, int) { return uid, gid }); err != nil {
		return fail(err)
	}
	uid, gid, note, workdir, err := prepare(rootfs, cf)
	if err != nil {
		return fail(err)
	}
	if netns, err = sandbox.NewNetNS(); err != nil {
		return fail(fmt.Errorf("runc runner: network namespace: %w", err))
	}
	spec := runcSpec(argv, append(append([]string(nil), cf.Config.Env...), portEnv(cfg)...), workdir, uid, gid, netns.Path())
	b, _ := json.MarshalIndent(spec, "", "  ")
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		return fail(err)
	}
	// Foreground runc forwards the signals it receives to the container's
	// process and exits with its status (128+n when signal n killed it).
	cmd := exec.Command(bin, "run", "--bundle", bundle, id)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	desc := fmt.Sprintf("runc (%s: own pid/mount/ipc/uts namespaces, and a network namespace with its own loopback only, dialled from inside; uid %d gid %d, no capabilities, no_new_privs, no user namespaces and no keyrings (seccomp), read-only root, tmpfs /tmp", filepath.Base(bin), uid, gid)
	if note != "" {
		desc += "; " + note
	}
	p := newProcess(Info{Runner: desc + ")"}, cfg, cleanup)
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return fail(fmt.Errorf("start runc: %w", err))
	}
	pw.Close()
	p.signal, p.dial = cmd.Process.Signal, netns.DialContext
	p.kill = func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	}
	go p.collect(pr)
	go func() {
		err := cmd.Wait()
		e := Exit{Code: cmd.ProcessState.ExitCode(), At: time.Now()}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal = "signal " + ws.Signal().String()
		}
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			e.Code = -1
		}
		p.finish(runcExit(e))
	}()
	return p, nil
}

// runcSpec is a minimal OCI runtime config: the fields runc needs, and the
// restrictions a restricted pod would have.
func runcSpec(args, env []string, cwd string, uid, gid uint32, netns string) map[string]any {
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
				"bounding": none, "effective": none, "inheritable": none, "permitted": none, "ambient": none,
			},
			"noNewPrivileges": true,
			"rlimits":         []map[string]any{{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}},
		},
		"root":     map[string]any{"path": "rootfs", "readonly": true},
		"hostname": "smoke",
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc", "options": []string{"nosuid", "noexec", "nodev"}},
			{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "nodev", "mode=1777", "size=65536k"}},
			{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		"linux": map[string]any{
			"namespaces": []map[string]string{{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network", "path": netns}},
			"maskedPaths": []string{"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
				"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"},
			"readonlyPaths": []string{"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			// No user namespace of its own, where a process without
			// capabilities gets them all and with them much of the kernel's
			// attack surface (RuntimeDefault refuses it too). clone3 says
			// ENOSYS, so that Go and glibc fall back to clone, whose flags
			// seccomp can see. No keyring either (RuntimeDefault refuses
			// it too): without a user namespace, the service's uid shares
			// its user keyring with the host's processes of that uid, and
			// reads their keys once it links it into its session keyring.
			"seccomp": map[string]any{
				"defaultAction": "SCMP_ACT_ALLOW",
				"syscalls": []map[string]any{
					{"names": []string{"unshare"}, "action": "SCMP_ACT_ERRNO", "errnoRet": int(syscall.EPERM)},
					{"names": []string{"keyctl", "add_key", "request_key"}, "action": "SCMP_ACT_ERRNO", "errnoRet": int(syscall.EPERM)},
					{"names": []string{"clone"}, "action": "SCMP_ACT_ERRNO", "errnoRet": int(syscall.EPERM),
						"args": []map[string]any{{"index": 0, "value": syscall.CLONE_NEWUSER, "valueTwo": syscall.CLONE_NEWUSER, "op": "SCMP_CMP_MASKED_EQ"}}},
					{"names": []string{"clone3"}, "action": "SCMP_ACT_ERRNO", "errnoRet": int(syscall.ENOSYS)},
				},
			},
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
