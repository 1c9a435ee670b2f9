package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The program's network namespace has its own loopback and nothing else:
// it reaches no host service, no metadata endpoint, nothing on the
// Internet. The caller reaches it through the outer init, which lives in
// that namespace: it connects on the caller's behalf and passes the
// connected socket back (SCM_RIGHTS). A socket stays in the namespace it
// was made in, wherever its descriptor goes. (Joining the namespace with
// setns would need CAP_SYS_ADMIN in the caller's own user namespace,
// which a caller that is not root lacks.)

// dialTimeout bounds one connection attempt inside.
const dialTimeout = 5 * time.Second

type dialRequest struct {
	ID      uint64 `json:"id"`
	Addr    string `json:"addr"`
	Timeout int64  `json:"timeoutMs"`
}

type dialResponse struct {
	ID    uint64 `json:"id"`
	Errno int    `json:"errno,omitempty"`
	Error string `json:"error,omitempty"`
}

func socketpair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	// The caller's end is non-blocking, so that its reads take deadlines.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "dial"), os.NewFile(uintptr(fds[1]), "dial"), nil
}

type dialClient struct {
	conn *os.File
	mu   sync.Mutex
	id   uint64
}

// DialContext connects to addr, a loopback address inside the sandbox
// ("127.0.0.1:8080"); errors are the kernel's, so a refused connection is
// syscall.ECONNREFUSED as with net.Dial.
func (s *Sandbox) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return s.dial.dialContext(ctx, network, addr)
}

func (c *dialClient) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: network, Addr: tcpAddr(addr), Err: err} }
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, opErr(fmt.Errorf("the sandbox dials tcp only, not %s", network))
	}
	timeout := dialTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	if timeout <= 0 {
		return nil, opErr(context.DeadlineExceeded)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.id++
	req, _ := json.Marshal(dialRequest{ID: c.id, Addr: addr, Timeout: timeout.Milliseconds()})
	_ = c.conn.SetDeadline(time.Now().Add(timeout + 2*time.Second))
	defer c.conn.SetDeadline(time.Time{})
	if _, err := c.conn.Write(req); err != nil {
		return nil, opErr(fmt.Errorf("the sandbox is gone: %w", err))
	}
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, err := recvmsg(c.conn, buf, oob)
		if err != nil {
			return nil, opErr(fmt.Errorf("the sandbox is gone: %w", err))
		}
		if n == 0 {
			return nil, opErr(errors.New("the sandbox is gone"))
		}
		fds := rights(oob[:oobn])
		var resp dialResponse
		if err := json.Unmarshal(buf[:n], &resp); err != nil || resp.ID != c.id {
			// A late answer to a request that timed out.
			closeFDs(fds)
			continue
		}
		switch {
		case resp.Errno != 0:
			closeFDs(fds)
			return nil, opErr(os.NewSyscallError("connect", syscall.Errno(resp.Errno)))
		case resp.Error != "":
			closeFDs(fds)
			return nil, opErr(errors.New(resp.Error))
		case len(fds) != 1:
			closeFDs(fds)
			return nil, opErr(fmt.Errorf("the sandbox passed %d sockets, want 1", len(fds)))
		}
		f := os.NewFile(uintptr(fds[0]), "sandbox-conn")
		conn, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return nil, opErr(err)
		}
		return conn, nil
	}
}

func tcpAddr(addr string) net.Addr {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}

// recvmsg reads one message and its control data from f without blocking
// a thread (f is non-blocking and in the runtime's poller).
func recvmsg(f *os.File, buf, oob []byte) (n, oobn int, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err == nil {
		err = rerr
	}
	return n, oobn, err
}

func rights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if fs, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, fs...)
		}
	}
	return fds
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// serveDial answers dial requests until the caller closes its end. Only
// loopback addresses are dialled: the namespace has nothing else.
func serveDial(f *os.File) {
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		if err != nil || n == 0 {
			return
		}
		var req dialRequest
		if err := json.Unmarshal(buf[:n], &req); err != nil {
			continue
		}
		resp, conn := dialInside(req)
		b, _ := json.Marshal(resp)
		var oob []byte
		if conn != nil {
			oob = unix.UnixRights(int(conn.Fd()))
		}
		_ = unix.Sendmsg(int(f.Fd()), b, oob, nil, 0)
		if conn != nil {
			conn.Close()
		}
	}
}

func dialInside(req dialRequest) (dialResponse, *os.File) {
	resp := dialResponse{ID: req.ID}
	ap, err := netip.ParseAddrPort(req.Addr)
	if err != nil || !ap.Addr().IsLoopback() || ap.Port() == 0 {
		resp.Error = fmt.Sprintf("%q is not a loopback address and port", req.Addr)
		return resp, nil
	}
	timeout := time.Duration(req.Timeout) * time.Millisecond
	if timeout <= 0 || timeout > dialTimeout {
		timeout = dialTimeout
	}
	conn, err := net.DialTimeout("tcp", ap.String(), timeout)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			resp.Errno = int(errno)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			resp.Errno = int(syscall.ETIMEDOUT)
		} else {
			resp.Error = err.Error()
		}
		return resp, nil
	}
	defer conn.Close()
	f, err := conn.(*net.TCPConn).File()
	if err != nil {
		resp.Error = err.Error()
		return resp, nil
	}
	return resp, f
}
