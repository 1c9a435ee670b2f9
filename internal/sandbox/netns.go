package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// NetNS is a network namespace with nothing but its loopback, made by a
// root caller for a container runtime to join (runc's "path" namespace):
// what runs in it reaches no host service, and the caller dials into it.
type NetNS struct{ f *os.File }

// NewNetNS makes a network namespace and brings its loopback up. It needs
// CAP_SYS_ADMIN (root).
func NewNetNS() (*NetNS, error) {
	var ns *os.File
	err := onThread(func() (bool, error) {
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			return true, err
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return true, fmt.Errorf("unshare the network namespace: %w", err)
		}
		ns, err = os.Open("/proc/thread-self/ns/net")
		if err == nil {
			err = loopbackUp()
		}
		return unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil, err
	})
	if err != nil {
		if ns != nil {
			ns.Close()
		}
		return nil, err
	}
	return &NetNS{f: ns}, nil
}

// Path names the namespace for another process while n is open.
func (n *NetNS) Path() string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), n.f.Fd()) }

// Close releases the namespace (it lives on while a process is in it).
func (n *NetNS) Close() error { return n.f.Close() }

// DialContext connects to addr, a loopback address in the namespace: the
// socket is made there, then connected from here.
func (n *NetNS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: network, Addr: tcpAddr(addr), Err: err} }
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() || (network != "tcp" && network != "tcp4" && network != "tcp6") {
		return nil, opErr(fmt.Errorf("the namespace has a loopback only: want tcp to a loopback address, not %s %s", network, addr))
	}
	family := unix.AF_INET
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	if ap.Addr().Is6() {
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := n.socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK)
	if err != nil {
		return nil, opErr(err)
	}
	cerr := unix.Connect(fd, sa)
	f := os.NewFile(uintptr(fd), "netns-conn")
	defer f.Close()
	if errors.Is(cerr, unix.EINPROGRESS) {
		if err := awaitConnect(ctx, f); err != nil {
			return nil, opErr(err)
		}
	} else if cerr != nil {
		return nil, opErr(os.NewSyscallError("connect", cerr))
	}
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, opErr(err)
	}
	return conn, nil
}

// socket makes a socket in the namespace (close-on-exec).
func (n *NetNS) socket(family, typ int) (int, error) {
	fd := -1
	err := onThread(func() (bool, error) {
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			return true, err
		}
		defer orig.Close()
		if err := unix.Setns(int(n.f.Fd()), unix.CLONE_NEWNET); err != nil {
			return true, err
		}
		fd, err = unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
		return unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil, err
	})
	if err != nil && fd >= 0 {
		unix.Close(fd)
		fd = -1
	}
	return fd, err
}

// onThread runs fn on a locked OS thread of its own. fn reports whether it
// left the thread as it found it; if not, the thread is discarded (its
// goroutine exits still locked) rather than returned to the scheduler in
// another namespace.
func onThread(fn func() (restored bool, err error)) error {
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := fn()
		if restored {
			runtime.UnlockOSThread()
		}
		res <- err
	}()
	return <-res
}

// awaitConnect waits for f's non-blocking connect to finish, and returns
// its error.
func awaitConnect(ctx context.Context, f *os.File) error {
	deadline := time.Now().Add(dialTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = f.SetWriteDeadline(deadline)
	defer f.SetWriteDeadline(time.Time{})
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var soErr int
	// Done when the connection failed or has a peer; otherwise wait for
	// the socket to turn writable. (RawConn.Write forgets a readiness seen
	// before it was called: the state is checked first, not assumed.)
	werr := rc.Write(func(s uintptr) bool {
		if soErr, err = unix.GetsockoptInt(int(s), unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soErr != 0 {
			return true
		}
		_, perr := unix.Getpeername(int(s))
		return !errors.Is(perr, unix.ENOTCONN)
	})
	switch {
	case werr != nil:
		return werr
	case err != nil:
		return err
	case soErr != 0:
		return os.NewSyscallError("connect", unix.Errno(soErr))
	}
	return nil
}
