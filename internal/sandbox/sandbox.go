// Package sandbox runs an untrusted program (the image under test) in its
// own user, mount, PID, network, IPC and UTS namespaces, as an unprivileged
// identity, with no capabilities, no_new_privs, a read-only root and no
// way back to the host's files, processes or network. It is how the smoke
// gate's process runner starts an image without a container runtime, and
// what keeps the release's secrets (its environment, its key file, the
// memory of the go-image process) out of the service's reach.
//
// The go-image binary itself sets the sandbox up, re-executed twice, as
// runc's init is: an outer init in the new user and network namespaces,
// outside the service's PID namespace, which brings the loopback up,
// forwards signals and dials the service for the caller; and an inner init,
// PID 1 of a new PID namespace, which pivots into the root filesystem,
// mounts /proc, /dev and /tmp, drops every capability and executes the
// entrypoint, which so becomes PID 1, as in a pod. Both are entered from
// this package's init function, before main, in any binary that links it.
package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The identities: a root caller maps the image's IDs 0 to IDRange-1 onto
// host IDs HostBase and up, which no host account uses by convention (the
// service, 65532 in go-image images, is host uid 2000065532); files keep
// their owners, shifted. A caller that is not root can map one ID only, its
// own: the service then runs as the caller's host uid, but in namespaces
// where none of the caller's processes and files can be reached.
const (
	HostBase = 2_000_000_000
	IDRange  = 1 << 24
	// NonRoot is the identity an image without a non-root USER runs as.
	NonRoot = 65532
)

// Spec is what the sandbox runs.
type Spec struct {
	// Rootfs is the host directory holding the image's filesystem, made by
	// the caller; its parent must be traversable by the sandbox's host user
	// (see HostOwner). It holds directories proc, dev and tmp, which are
	// mounted over.
	Rootfs string
	// Args is the command line: Args[0] is absolute in Rootfs, or looked
	// up in the PATH of Env, as a container runtime does.
	Args []string
	// Env is the program's whole environment (the image's): nothing of the
	// caller's environment is passed.
	Env []string
	// Dir is the working directory in Rootfs ("" for /).
	Dir string
	// UID and GID are the identity inside; UID 0 is refused.
	UID, GID uint32
	// Output receives the program's stdout and stderr.
	Output *os.File
	// Hostname is the UTS name inside ("sandbox" if empty).
	Hostname string
}

// Exit is how the program ended.
type Exit struct {
	Code   int    `json:"code"`
	Signal string `json:"signal,omitempty"`
}

// Sandbox is a running program.
type Sandbox struct {
	spec    Spec
	cmd     *exec.Cmd
	status  *os.File
	dial    dialClient
	notes   []string
	hostUID int

	done chan struct{}
	exit Exit
	once sync.Once
}

// ErrUnavailable wraps every failure to create the namespaces: the machine
// does not allow them, and the caller must not fall back to running the
// program unisolated.
var ErrUnavailable = errors.New("the smoke sandbox cannot be set up here")

// HostOwner returns the host owner to give an image file owned by uid:gid,
// so that inside the sandbox it has that owner; -1 leaves an ID as it is
// (IDs beyond IDRange appear as the overflow ID 65534). ok is false for a
// caller that is not root: it cannot chown, and inside the sandbox every
// file then belongs to the service's user.
func HostOwner(uid, gid int) (hostUID, hostGID int, ok bool) {
	if os.Geteuid() != 0 {
		return -1, -1, false
	}
	shift := func(id int) int {
		if id < 0 || id >= IDRange {
			return -1
		}
		return HostBase + id
	}
	return shift(uid), shift(gid), true
}

// Check says whether this process can give the sandbox its identities:
// as root, the host IDs from HostBase must exist in its user namespace (a
// root inside a container's user namespace often has 65536 IDs only).
// Callers check before they extract an image with HostOwner.
func Check() error {
	if os.Geteuid() != 0 {
		return nil
	}
	for _, f := range []string{"/proc/self/uid_map", "/proc/self/gid_map"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if !maps(string(b), HostBase, IDRange) {
			return fmt.Errorf("%w: go-image runs as root in a user namespace whose %s has no IDs %d-%d, which the sandbox gives the image's user and files: "+
				"run go-image as a non-root user (the sandbox then maps that user's own uid); the image is not run unisolated",
				ErrUnavailable, strings.TrimPrefix(f, "/proc/self/"), HostBase, HostBase+IDRange-1)
		}
	}
	return nil
}

// maps reports whether an uid_map or gid_map holds the IDs [first,
// first+n) of its own namespace.
func maps(idMap string, first, n int) bool {
	for _, l := range strings.Split(idMap, "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		inside, err1 := strconv.Atoi(f[0])
		count, err2 := strconv.Atoi(f[2])
		if err1 == nil && err2 == nil && inside <= first && first+n <= inside+count {
			return true
		}
	}
	return false
}

// hostIDs is the host identity the sandbox's uid:gid runs as.
func hostIDs(uid, gid uint32) (int, int) {
	if os.Geteuid() != 0 {
		return os.Geteuid(), os.Getegid()
	}
	return HostBase + int(uid), HostBase + int(gid)
}

// Start runs spec in a new sandbox. Its errors say what failed and how to
// fix it; a machine without user namespaces gets ErrUnavailable.
func Start(spec Spec) (*Sandbox, error) {
	if len(spec.Args) == 0 {
		return nil, errors.New("sandbox: no command")
	}
	if spec.UID == 0 {
		return nil, fmt.Errorf("sandbox: refusing to run as uid 0: run the image as a non-root user (%d)", NonRoot)
	}
	root := os.Geteuid() == 0
	if root && (spec.UID >= IDRange || spec.GID >= IDRange) {
		return nil, fmt.Errorf("sandbox: uid %d gid %d are beyond the %d IDs the sandbox maps: give the image a USER below %d", spec.UID, spec.GID, IDRange, IDRange)
	}
	hostUID, hostGID := hostIDs(spec.UID, spec.GID)
	if err := Check(); err != nil {
		return nil, err
	}
	if root {
		if u, err := user.LookupId(strconv.Itoa(hostUID)); err == nil {
			return nil, fmt.Errorf("%w: host uid %d, which the sandbox runs the service as, belongs to the host account %q: remove that account, or run go-image as a non-root user", ErrUnavailable, hostUID, u.Username)
		}
	}
	if spec.Hostname == "" {
		spec.Hostname = "sandbox"
	}
	cfg, err := json.Marshal(config{Rootfs: spec.Rootfs, Args: spec.Args, Env: spec.Env, Dir: spec.Dir, Hostname: spec.Hostname})
	if err != nil {
		return nil, err
	}

	var closers []io.Closer
	closeAll := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		return nil, err
	}
	dialParent, dialChild, err := socketpair()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		statusR.Close()
		statusW.Close()
		return nil, err
	}
	closers = append(closers, cfgR, cfgW, statusR, statusW, dialParent, dialChild)

	idMap := func(inside uint32, host int) []syscall.SysProcIDMap {
		if root {
			return []syscall.SysProcIDMap{{ContainerID: 0, HostID: HostBase, Size: IDRange}}
		}
		return []syscall.SysProcIDMap{{ContainerID: int(inside), HostID: host, Size: 1}}
	}
	out := spec.Output
	cmd := &exec.Cmd{
		Path: "/proc/self/exe",
		Args: []string{outerName},
		// Nothing of this process's environment: the init needs none, and
		// what it had would stay readable in its /proc/PID/environ.
		Env:        []string{},
		Stdout:     out,
		Stderr:     out,
		ExtraFiles: []*os.File{cfgR, statusW, dialChild},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
			UidMappings:                idMap(spec.UID, hostUID),
			GidMappings:                idMap(spec.GID, hostGID),
			GidMappingsEnableSetgroups: root,
			// Root's supplementary groups (host gid 0) are dropped; a caller
			// that is not root cannot drop its own, which then only grant
			// what they grant on the image's files.
			Credential: &syscall.Credential{Uid: spec.UID, Gid: spec.GID, Groups: []uint32{}, NoSetGroups: !root},
			// The inits set up mounts, the loopback, and a limit on user
			// namespaces inside: capabilities in the new user namespace
			// only, passed across their exec as ambient capabilities, and
			// dropped before the entrypoint runs.
			AmbientCaps: []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_NET_ADMIN, unix.CAP_SETPCAP, unix.CAP_SYS_RESOURCE},
			Pdeathsig:   syscall.SIGKILL,
			Setpgid:     true,
		},
	}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, startError(err, hostUID)
	}
	cfgR.Close()
	statusW.Close()
	dialChild.Close()
	s := &Sandbox{spec: spec, cmd: cmd, status: statusR, dial: dialClient{conn: dialParent}, hostUID: hostUID, done: make(chan struct{})}
	kill := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		statusR.Close()
		dialParent.Close()
	}
	_, werr := cfgW.Write(cfg)
	if cerr := cfgW.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		kill()
		return nil, fmt.Errorf("sandbox: hand the configuration to its init: %w", werr)
	}
	// Set-up execs the go-image binary twice: a few tens of milliseconds,
	// seconds on a loaded machine.
	_ = statusR.SetReadDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReaderSize(statusR, 64<<10)
	var m message
	if err := readMessage(br, &m); err != nil {
		kill()
		return nil, fmt.Errorf("sandbox: its init ended before the program started (%v): see the output above for the cause", err)
	}
	if m.Error != "" {
		kill()
		if strings.Contains(m.Error, "exec") && strings.Contains(m.Error, "permission denied") {
			m.Error += " (is the image's root filesystem on a noexec mount? set TMPDIR to a directory on one that allows exec)"
		}
		return nil, fmt.Errorf("sandbox: %s", m.Error)
	}
	if !m.Started {
		kill()
		return nil, fmt.Errorf("sandbox: unexpected first message from its init: %+v", m)
	}
	s.notes = m.Notes
	_ = statusR.SetReadDeadline(time.Time{})
	go s.wait(br)
	return s, nil
}

// startError explains why the outer init could not be started.
func startError(err error, hostUID int) error {
	switch {
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.EUSERS):
		return fmt.Errorf("%w: creating user namespaces failed (%v): enable them (sysctl user.max_user_namespaces=15000; "+
			"on Debian and Ubuntu also kernel.unprivileged_userns_clone=1 and kernel.apparmor_restrict_unprivileged_userns=0), "+
			"or run as root with --runner runc; the image is not run unisolated", ErrUnavailable, err)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%w: executing the go-image binary as host uid %d failed (%v): make it executable by that user (chmod o+x)", ErrUnavailable, hostUID, err)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// wait reads the init's last message, the program's exit, and reaps it.
func (s *Sandbox) wait(br *bufio.Reader) {
	var m message
	err := readMessage(br, &m)
	_ = s.cmd.Wait()
	if err == nil && m.Exit != nil {
		s.exit = *m.Exit
	} else {
		// The outer init died first (killed): the program died with it,
		// by the parent-death signal.
		s.exit = Exit{Code: -1, Signal: "signal " + syscall.SIGKILL.String()}
	}
	s.status.Close()
	s.dial.conn.Close()
	close(s.done)
}

// Done is closed once the program has exited and the sandbox is gone.
func (s *Sandbox) Done() <-chan struct{} { return s.done }

// Exit is how the program ended; it waits for Done.
func (s *Sandbox) Exit() Exit { <-s.done; return s.exit }

// Signal sends sig to the program (through the outer init, which forwards
// it: the program is not in this process's PID namespace).
func (s *Sandbox) Signal(sig os.Signal) error { return s.cmd.Process.Signal(sig) }

// Kill ends the program and the sandbox, and waits for both.
func (s *Sandbox) Kill() {
	s.once.Do(func() {
		select {
		case <-s.done:
			return
		default:
		}
		// The outer init is the leader of its process group; the program is
		// in it too, and dies with the init in any case (parent-death signal).
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		_ = s.cmd.Process.Kill()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
	})
}

// Description says how the program runs, for reports.
func (s *Sandbox) Description() string {
	who := fmt.Sprintf("uid %d gid %d (host uid %d)", s.spec.UID, s.spec.GID, s.hostUID)
	if os.Geteuid() != 0 {
		who += ": the caller's own uid, which a user namespace without root can only map"
	}
	d := "own user, mount, PID, network, IPC and UTS namespaces; " + who +
		"; no capabilities, no_new_privs; read-only root, tmpfs /tmp, /dev with null, zero, full, random, urandom; " +
		"network: its own loopback only, dialled from inside"
	if len(s.notes) > 0 {
		d += "; " + strings.Join(s.notes, "; ")
	}
	return d
}

// config is what the caller hands the outer init, and the outer the inner.
type config struct {
	Rootfs   string   `json:"rootfs"`
	Args     []string `json:"args"`
	Env      []string `json:"env"`
	Dir      string   `json:"dir"`
	Hostname string   `json:"hostname"`
}

// message is one line the outer init writes on its status pipe.
type message struct {
	Started bool     `json:"started,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	Error   string   `json:"error,omitempty"`
	Exit    *Exit    `json:"exit,omitempty"`
}

// maxMessage bounds a status line and the configuration.
const maxMessage = 16 << 20

func readMessage(br *bufio.Reader, m *message) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, m)
}
