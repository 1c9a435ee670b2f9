package smoke

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ProcessRunner is the daemonless runner: it extracts the image's filesystem
// to a temporary directory and runs the entrypoint as a local process with
// the image's env, arguments and working directory. As root it chroots into
// the filesystem and drops to the image's user, so the service runs as it
// would in a pod (UID 65532, the image's /etc and CA bundle); otherwise it
// runs the binary from the extracted tree as the current user. Network
// namespaces are shared: the service is moved to free loopback ports through
// the declared env variables.
type ProcessRunner struct {
	// NoIsolation runs as the current user without chroot even as root.
	NoIsolation bool
	// TempDir holds the extracted filesystem ("" for os.TempDir).
	TempDir string
}

// Start implements Runner.
func (r ProcessRunner) Start(ctx context.Context, img v1.Image, cfg Config) (Process, error) {
	cf, argv, businessPort, probePort, env, err := launch(img, cfg)
	if err != nil {
		return nil, err
	}
	isolate := os.Geteuid() == 0 && !r.NoIsolation
	rootfs, err := os.MkdirTemp(r.TempDir, "go-image-smoke-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(rootfs) }
	if err := extract(img, rootfs, isolate); err != nil {
		cleanup()
		return nil, err
	}
	workdir := cf.Config.WorkingDir
	if workdir == "" {
		workdir = "/"
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append([]string(nil), cf.Config.Env...), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	desc := "process"
	if isolate {
		uid, gid, err := identity(rootfs, cf.Config.User)
		if err != nil {
			cleanup()
			return nil, err
		}
		// Inside the chroot the image's own paths hold: argv[0] and the
		// working directory are resolved by the kernel after chroot.
		cmd.Dir = workdir
		cmd.SysProcAttr.Chroot = rootfs
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}
		desc = fmt.Sprintf("process (daemonless: image filesystem extracted, chroot, uid %d gid %d)", uid, gid)
	} else {
		bin, err := resolve(rootfs, argv[0])
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("entrypoint %s: %w (the daemonless runner needs an absolute path to a binary in the image)", argv[0], err)
		}
		cmd.Path = bin
		if d := filepath.Join(rootfs, filepath.FromSlash(path.Clean("/"+workdir))); isDir(d) {
			cmd.Dir = d
		} else {
			cmd.Dir = rootfs
		}
		why := "not root, so the image's user is not applied"
		if os.Geteuid() == 0 {
			why = "isolation turned off, so the image's user is not applied"
		}
		desc = fmt.Sprintf("process (daemonless: image filesystem extracted, no chroot, uid %d: %s)", os.Geteuid(), why)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		cleanup()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &process{
		info: Info{Runner: desc, BusinessAddr: fmt.Sprintf("127.0.0.1:%d", businessPort), ProbeAddr: fmt.Sprintf("127.0.0.1:%d", probePort)},
		done: make(chan struct{}), cleanup: cleanup,
	}
	p.info.Started = time.Now()
	cmd, err = startRetryingBusy(cmd)
	p.cmd = cmd
	if err != nil {
		pr.Close()
		pw.Close()
		cleanup()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	pw.Close()
	go p.collect(pr)
	go p.wait()
	return p, nil
}

// startRetryingBusy starts cmd, retrying while exec fails with ETXTBSY: a
// fork elsewhere in this process (another smoke run, a parallel test) can
// briefly inherit the write descriptor of the binary just extracted, and
// retrying is the known remedy (golang/go#22315). A Cmd cannot be started
// twice, so each try starts a copy.
func startRetryingBusy(cmd *exec.Cmd) (*exec.Cmd, error) {
	for try := 0; ; try++ {
		err := cmd.Start()
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || try == 20 {
			return cmd, err
		}
		time.Sleep(50 * time.Millisecond)
		cmd = &exec.Cmd{Path: cmd.Path, Args: cmd.Args, Env: cmd.Env, Dir: cmd.Dir,
			SysProcAttr: cmd.SysProcAttr, Stdout: cmd.Stdout, Stderr: cmd.Stderr}
	}
}

// launch reads what both runners start from: the image config, the
// command line (entrypoint then cmd), and the ports and env that tell the
// service where to listen.
func launch(img v1.Image, cfg Config) (cf *v1.ConfigFile, argv []string, businessPort, probePort int, env []string, err error) {
	if cf, err = img.ConfigFile(); err != nil {
		return nil, nil, 0, 0, nil, fmt.Errorf("read image config: %w", err)
	}
	argv = append(append([]string(nil), cf.Config.Entrypoint...), cf.Config.Cmd...)
	if len(argv) == 0 {
		return nil, nil, 0, 0, nil, fmt.Errorf("the image has no entrypoint or cmd: set ENTRYPOINT to the service binary")
	}
	businessPort, probePort, env, err = ports(cfg)
	return cf, argv, businessPort, probePort, env, err
}

// ports picks the ports the driver will reach: free loopback ports for
// services that are told their ports through env, the fixed ones otherwise.
func ports(cfg Config) (business, probe int, env []string, err error) {
	business, probe = cfg.BusinessPort, cfg.ProbePort
	if cfg.BusinessEnv != "" {
		if business, err = freePort(); err != nil {
			return 0, 0, nil, err
		}
		env = append(env, PortEnv(cfg.BusinessEnv, business))
	}
	switch {
	case cfg.ProbePort == cfg.BusinessPort:
		probe = business // one port declared for both: keep them one
	case cfg.ProbeEnv != "":
		if probe, err = freePort(); err != nil {
			return 0, 0, nil, err
		}
		env = append(env, PortEnv(cfg.ProbeEnv, probe))
	}
	return business, probe, env, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

type process struct {
	info    Info
	cmd     *exec.Cmd
	done    chan struct{}
	exit    Exit
	cleanup func()
	// statusIsRunc: the exit status is runc's, 128+n for a signal.
	statusIsRunc bool

	mu     sync.Mutex
	output []string
	once   sync.Once
}

const maxOutput = 200

func (p *process) collect(r io.ReadCloser) {
	defer r.Close()
	s := bufio.NewScanner(r)
	for s.Scan() {
		p.mu.Lock()
		p.output = append(p.output, s.Text())
		if len(p.output) > maxOutput {
			p.output = p.output[len(p.output)-maxOutput:]
		}
		p.mu.Unlock()
	}
}

func (p *process) wait() {
	err := p.cmd.Wait()
	e := Exit{Code: p.cmd.ProcessState.ExitCode(), At: time.Now()}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = "signal " + ws.Signal().String()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.Code = -1
	}
	if p.statusIsRunc {
		e = runcExit(e)
	}
	p.exit = e
	close(p.done)
}

func (p *process) Info() Info               { return p.info }
func (p *process) Signal(s os.Signal) error { return p.cmd.Process.Signal(s) }
func (p *process) Done() <-chan struct{}    { return p.done }
func (p *process) Exit() Exit               { <-p.done; return p.exit }
func (p *process) Output() []string {
	// Give the pipe a moment to deliver the last lines of an exited process.
	select {
	case <-p.done:
		time.Sleep(20 * time.Millisecond)
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.output...)
}

func (p *process) Close() error {
	p.once.Do(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
		p.cleanup()
	})
	return nil
}
