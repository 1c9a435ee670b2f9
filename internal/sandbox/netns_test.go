package sandbox

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenIn listens on 127.0.0.1:port inside n.
func listenIn(t *testing.T, n *NetNS, port int) net.Listener {
	t.Helper()
	fd, err := n.socket(unix.AF_INET, unix.SOCK_STREAM)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "listener")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestNetNS: the namespace has its own loopback, which the caller dials
// into; the host's loopback listeners are not in it.
func TestNetNS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: a network namespace for runc needs root")
	}
	n, err := NewNetNS()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ln := listenIn(t, n, 8080)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("inside"))
			c.Close()
		}
	}()
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	start := time.Now()
	for i := 0; i < 200; i++ {
		c, err := n.DialContext(context.Background(), "tcp", "127.0.0.1:8080")
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		b := make([]byte, 6)
		if _, err := c.Read(b); err != nil || string(b) != "inside" {
			t.Fatalf("read %d: %q %v", i, b, err)
		}
		c.Close()
	}
	t.Logf("200 dials in %s", time.Since(start))
	if _, err := n.DialContext(context.Background(), "tcp", host.Addr().String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial the host's listener from inside = %v, want connection refused", err)
	}
}
