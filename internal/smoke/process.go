package smoke

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/sandbox"
)

// ProcessRunner is the daemonless runner: it extracts the image's
// filesystem to a temporary directory and runs the entrypoint in a sandbox
// (internal/sandbox): its own user, mount, PID, network, IPC and UTS
// namespaces, as the image's user (never root) mapped to an unprivileged
// host uid, with no capabilities, no_new_privs, a read-only root, a tmpfs
// /tmp and a loopback of its own, which the driver dials from inside. The
// service is PID 1, sees none of the host's files, processes or network,
// and gets the image's environment only. Where the sandbox cannot be set
// up (no user namespaces), Start fails with the reason and the fix: the
// image is never run unisolated.
type ProcessRunner struct {
	// TempDir holds the extracted filesystem ("" for os.TempDir). The
	// sandbox's host user must be able to traverse it, and it must allow
	// exec.
	TempDir string
}

// Start implements Runner.
func (r ProcessRunner) Start(ctx context.Context, img v1.Image, cfg Config) (Process, error) {
	cf, argv, err := launch(img)
	if err != nil {
		return nil, err
	}
	if err := sandbox.Check(); err != nil {
		return nil, err
	}
	bundle, err := os.MkdirTemp(r.TempDir, "go-image-smoke-")
	if err != nil {
		return nil, err
	}
	// The sandbox dies with go-image (parent-death signals); the extracted
	// image is removed by the reaper, even then.
	cleanup, err := startReaper(bundle, []string{})
	if err != nil {
		removeTree(bundle)
		return nil, err
	}
	fail := func(err error) (Process, error) {
		cleanup()
		return nil, err
	}
	rootfs := path.Join(bundle, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return fail(err)
	}
	var own owner
	if _, _, ok := sandbox.HostOwner(0, 0); ok {
		own = func(uid, gid int) (int, int) { u, g, _ := sandbox.HostOwner(uid, gid); return u, g }
	}
	if err := extract(ctx, img, rootfs, own); err != nil {
		return fail(err)
	}
	uid, gid, note, workdir, err := prepare(rootfs, cf)
	if err != nil {
		return fail(err)
	}
	// The sandbox's user enters the root filesystem through the bundle.
	if u, g, ok := sandbox.HostOwner(int(uid), int(gid)); ok {
		if err := os.Chown(bundle, u, g); err != nil {
			return fail(err)
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	env := append(append([]string(nil), cf.Config.Env...), portEnv(cfg)...)
	sb, err := sandbox.Start(sandbox.Spec{Rootfs: rootfs, Args: argv, Env: env, Dir: workdir, UID: uid, GID: gid, Output: pw, Hostname: "smoke"})
	pw.Close()
	if err != nil {
		pr.Close()
		return fail(err)
	}
	desc := "process sandbox (" + sb.Description()
	if note != "" {
		desc += "; " + note
	}
	p := newProcess(Info{Runner: desc + ")"}, cfg, cleanup)
	p.signal, p.dial = sb.Signal, sb.DialContext
	p.kill = sb.Kill
	go p.collect(pr)
	go func() {
		<-sb.Done()
		e := sb.Exit()
		p.finish(Exit{Code: e.Code, Signal: e.Signal, At: time.Now()})
	}()
	return p, nil
}

// prepare readies an extracted root filesystem for a runner: the identity
// the service runs as, the mount points, the working directory.
func prepare(rootfs string, cf *v1.ConfigFile) (uid, gid uint32, note, workdir string, err error) {
	t, err := openTree(rootfs)
	if err != nil {
		return 0, 0, "", "", err
	}
	defer t.Close()
	if uid, gid, note, err = identity(t, cf.Config.User); err != nil {
		return 0, 0, "", "", err
	}
	if err := t.mkdirs("proc", "dev", "tmp", "sys"); err != nil {
		return 0, 0, "", "", fmt.Errorf("prepare the root filesystem: %w", err)
	}
	workdir = path.Clean("/" + cf.Config.WorkingDir)
	// A runtime creates a missing working directory.
	if d, err := t.resolve(workdir); err != nil {
		return 0, 0, "", "", fmt.Errorf("working directory %s: %w", workdir, err)
	} else if d != "" {
		if err := t.root.MkdirAll(d, 0o755); err != nil {
			return 0, 0, "", "", fmt.Errorf("working directory %s: %w", workdir, err)
		}
	}
	return uid, gid, note, workdir, nil
}

// launch reads what both runners start from: the image config and the
// command line (entrypoint then cmd).
func launch(img v1.Image) (cf *v1.ConfigFile, argv []string, err error) {
	if cf, err = img.ConfigFile(); err != nil {
		return nil, nil, fmt.Errorf("read image config: %w", err)
	}
	argv = append(append([]string(nil), cf.Config.Entrypoint...), cf.Config.Cmd...)
	if len(argv) == 0 {
		return nil, nil, fmt.Errorf("the image has no entrypoint or cmd: set ENTRYPOINT to the service binary")
	}
	return cf, argv, nil
}

// portEnv tells the service its ports through the declared variables.
// Both runners give it a network namespace of its own, so the ports are
// the configured ones, as in a pod.
func portEnv(cfg Config) []string {
	var env []string
	if cfg.BusinessEnv != "" {
		env = append(env, PortEnv(cfg.BusinessEnv, cfg.BusinessPort))
	}
	if cfg.ProbeEnv != "" && cfg.ProbePort != cfg.BusinessPort {
		env = append(env, PortEnv(cfg.ProbeEnv, cfg.ProbePort))
	}
	return env
}

// process is a service started by a local runner.
type process struct {
	info    Info
	signal  func(os.Signal) error
	kill    func() // ends it; returns once it is gone
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	done    chan struct{}
	exit    Exit
	cleanup func()

	mu     sync.Mutex
	output []string
	once   sync.Once
}

func newProcess(info Info, cfg Config, cleanup func()) *process {
	info.BusinessAddr = fmt.Sprintf("127.0.0.1:%d", cfg.BusinessPort)
	info.ProbeAddr = fmt.Sprintf("127.0.0.1:%d", cfg.ProbePort)
	info.Started = time.Now()
	return &process{info: info, done: make(chan struct{}), cleanup: cleanup}
}

func (p *process) finish(e Exit) {
	p.exit = e
	close(p.done)
}

// The output kept for the report: the last maxOutput lines, each cut to
// maxOutputLine bytes. Everything is read, kept or not: a service whose
// pipe stopped being read would block on its next log line, or die of
// SIGPIPE (a Go program does, on fd 1 and 2), and fail the gate for what
// go-image did.
const (
	maxOutput     = 200
	maxOutputLine = 4 << 10
)

func (p *process) collect(r io.ReadCloser) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	cut := 0
	for {
		frag, err := br.ReadSlice('\n')
		if err == nil {
			frag = frag[:len(frag)-1]
		}
		take := min(max(maxOutputLine-len(line), 0), len(frag))
		line, cut = append(line, frag[:take]...), cut+len(frag)-take
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == nil || len(line) > 0 || cut > 0 {
			p.keep(line, cut)
		}
		if err != nil {
			return
		}
		line, cut = line[:0], 0
	}
}

// keep adds one line (without its newline) to the tail.
func (p *process) keep(line []byte, cut int) {
	s := string(bytes.TrimSuffix(line, []byte("\r")))
	if cut > 0 {
		s += fmt.Sprintf(" … (%d bytes cut)", cut)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.output = append(p.output, s)
	if len(p.output) > maxOutput {
		p.output = p.output[len(p.output)-maxOutput:]
	}
}

func (p *process) Info() Info               { return p.info }
func (p *process) Signal(s os.Signal) error { return p.signal(s) }
func (p *process) Done() <-chan struct{}    { return p.done }
func (p *process) Exit() Exit               { <-p.done; return p.exit }

// DialContext reaches the service inside its network namespace.
func (p *process) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return p.dial(ctx, network, addr)
}

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
		p.kill()
		p.cleanup()
	})
	return nil
}
