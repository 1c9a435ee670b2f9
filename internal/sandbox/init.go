package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The inits are this binary, re-executed under these names.
const (
	outerName = "go-image-sandbox-outer"
	innerName = "go-image-sandbox-inner"
)

func init() {
	// Package initialisation runs on the main thread, locked to it: the
	// capabilities dropped and the exec below are that thread's.
	switch os.Args[0] {
	case outerName:
		outer()
	case innerName:
		inner()
	}
}

// outer is the outer init: in the new user, mount, network, IPC and UTS
// namespaces, in the caller's PID namespace. fd 3 is the configuration,
// fd 4 the status pipe, fd 5 the dial socket.
func outer() {
	// Whatever this process inherited beyond its three files must not
	// reach the inner init and the program.
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	cfgFile, status, dialFile := os.NewFile(3, "config"), os.NewFile(4, "status"), os.NewFile(5, "dial")
	send := func(m message) {
		b, _ := json.Marshal(m)
		_, _ = status.Write(append(b, '\n'))
	}
	fail := func(step string, err error) {
		send(message{Error: step + ": " + err.Error()})
		os.Exit(1)
	}
	raw, err := io.ReadAll(io.LimitReader(cfgFile, maxMessage))
	if err != nil {
		fail("read the configuration", err)
	}
	cfgFile.Close()
	var cfg config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		fail("read the configuration", err)
	}
	if err := loopbackUp(); err != nil {
		fail("bring up the loopback interface", err)
	}
	// No user namespace can be made inside: a program without
	// capabilities could otherwise get them in a namespace of its own,
	// and with them much of the kernel's attack surface.
	if err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0"), 0); err != nil {
		fail("forbid user namespaces inside", err)
	}
	self, err := sealedCopy()
	if err != nil {
		fail("copy the go-image binary for the inner init", err)
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		fail("pipe", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		fail("pipe", err)
	}
	// Signals for the program are caught from now on, and forwarded once
	// it runs.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	cmd := &exec.Cmd{
		// The inner init runs from a sealed copy: inside the program's PID
		// namespace, /proc/1/exe must not be a file on the host that a
		// program running as the caller's user could write (runc's
		// CVE-2019-5736).
		Path:       fmt.Sprintf("/proc/self/fd/%d", self.Fd()),
		Args:       []string{innerName},
		Env:        []string{},
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{cfgR, errW},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
			Pdeathsig:  syscall.SIGKILL,
		},
	}
	if err := cmd.Start(); err != nil {
		fail("start the inner init", err)
	}
	self.Close()
	cfgR.Close()
	errW.Close()
	if _, err := cfgW.Write(raw); err != nil {
		fail("configure the inner init", err)
	}
	cfgW.Close()
	// The inner init writes notes, and an error if it fails; its end of
	// the pipe closes on exec, so EOF without an error means the program
	// runs.
	var notes []string
	sc := bufio.NewScanner(io.LimitReader(errR, maxMessage))
	for sc.Scan() {
		kind, text, _ := strings.Cut(sc.Text(), "\t")
		if kind == "error" {
			_ = cmd.Wait()
			send(message{Error: text})
			os.Exit(1)
		}
		notes = append(notes, text)
	}
	errR.Close()
	send(message{Started: true, Notes: notes})
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	go serveDial(dialFile)
	_ = cmd.Wait()
	e := Exit{Code: cmd.ProcessState.ExitCode()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Code, e.Signal = -1, "signal "+ws.Signal().String()
	}
	send(message{Exit: &e})
	os.Exit(0)
}

// loopbackUp sets lo up in this network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// sealedCopy copies this binary into a sealed memory file.
func sealedCopy() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("go-image-sandbox", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		// Kernels before 6.3 know no MFD_EXEC: their memory files are
		// executable.
		fd, err = unix.MemfdCreate("go-image-sandbox", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w (is vm.memfd_noexec 2?)", err)
	}
	f := os.NewFile(uintptr(fd), "go-image-sandbox")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// devices are bound from the host into the sandbox's /dev.
var devices = []string{"null", "zero", "full", "random", "urandom"}

// inner is the inner init: PID 1 of the program's PID namespace, in a mount
// namespace of its own. fd 3 is the configuration, fd 4 the error pipe.
func inner() {
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	cfgFile, errPipe := os.NewFile(3, "config"), os.NewFile(4, "errors")
	fail := func(step string, err error) {
		fmt.Fprintf(errPipe, "error\t%s: %s\n", step, strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
	note := func(text string) { fmt.Fprintf(errPipe, "note\t%s\n", strings.ReplaceAll(text, "\n", " ")) }
	var cfg config
	if err := json.NewDecoder(io.LimitReader(cfgFile, maxMessage)).Decode(&cfg); err != nil {
		fail("read the configuration", err)
	}
	cfgFile.Close()
	if err := setupRoot(cfg.Rootfs, note); err != nil {
		fail("set up the root filesystem", err)
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		fail("set the hostname", err)
	}
	// A session keyring of its own: the caller's may hold keys. Where
	// keyctl is filtered (a container's seccomp profile), the program is
	// filtered alike and cannot reach it either.
	if _, err := unix.KeyctlJoinSessionKeyring("go-image-sandbox"); err != nil && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
		fail("join a new session keyring", err)
	}
	dir := cfg.Dir
	if dir == "" {
		dir = "/"
	}
	if err := os.Chdir(dir); err != nil {
		fail("enter the working directory", err)
	}
	bin, err := lookPath(cfg.Args[0], cfg.Env)
	if err != nil {
		fail("find the entrypoint", err)
	}
	if err := dropPrivileges(); err != nil {
		fail("drop privileges", err)
	}
	err = syscall.Exec(bin, cfg.Args, cfg.Env)
	fail("exec "+bin, err)
}

// setupRoot makes rootfs this mount namespace's root: read-only, with a
// fresh /proc of the new PID namespace, a minimal /dev and a tmpfs /tmp,
// and the host's file systems detached.
func setupRoot(rootfs string, note func(string)) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); errors.Is(err, unix.EACCES) {
		return fmt.Errorf("bind %s: %w (the sandbox's user cannot reach it: set TMPDIR to a directory every user can traverse, such as /tmp)", rootfs, err)
	} else if err != nil {
		return fmt.Errorf("bind %s: %w", rootfs, err)
	}
	// Before the pivot: the kernel lets a user namespace mount proc only
	// while a full proc is visible.
	if err := unix.Mount("proc", filepath.Join(rootfs, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		note(fmt.Sprintf("no /proc: this machine refused a proc mount (%v)", err))
	}
	dev := filepath.Join(rootfs, "dev")
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=755,size=64k"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for _, d := range devices {
		p := filepath.Join(dev, d)
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err != nil {
			return err
		}
		f.Close()
		if err := unix.Mount("/dev/"+d, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", d, err)
		}
	}
	if err := unix.Mount("tmpfs", filepath.Join(rootfs, "tmp"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=65536k"); err != nil {
		return fmt.Errorf("mount /tmp: %w", err)
	}
	// Read-only, keeping the flags the host's mount locks (a remount may
	// not clear them from inside a user namespace).
	var st unix.Statfs_t
	if err := unix.Statfs(rootfs, &st); err != nil {
		return err
	}
	locked := uintptr(st.Flags) & (unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
	if err := unix.Mount("", rootfs, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|locked, ""); err != nil {
		return fmt.Errorf("make the root read-only: %w", err)
	}
	if err := unix.Chdir(rootfs); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	// The old root now sits on top of the new one: detach it, and with it
	// every file system of the host.
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the host's file systems: %w", err)
	}
	return unix.Chdir("/")
}

// lookPath finds the entrypoint as a runtime does: a name with a slash as
// it is, another in the PATH of the program's environment.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	search := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			search = v
		}
	}
	for _, dir := range filepath.SplitList(search) {
		if !path.IsAbs(dir) {
			continue
		}
		p := path.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH %s: give the image an absolute ENTRYPOINT", name, search)
}

// dropPrivileges leaves this thread, which execs the program, with no
// capability in any set, none it could regain (the bounding set is empty,
// no_new_privs is set), and killed with the outer init.
func dropPrivileges() error {
	for c := 0; c <= 63; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clear capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0)
}
