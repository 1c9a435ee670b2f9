package cacheprog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// DialTimeout bounds the connection to a Serve behind a socket.
const DialTimeout = 5 * time.Second

// ErrUnreachable is Proxy's error when nothing listens at the socket; in
// and out are then untouched, so the caller may serve them itself.
var ErrUnreachable = errors.New("build cache socket unreachable")

// Proxy relays the go command's requests on in to the Serve listening on
// the unix socket at path, and its answers to out, until that Serve closes
// the connection (after acknowledging "close"). It is the whole GOCACHEPROG
// child when the cache lives in another process: the child then holds no
// credential and no state.
func Proxy(ctx context.Context, path string, in io.Reader, out io.Writer) error {
	d := net.Dialer{Timeout: DialTimeout}
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v (is the go-image process that started this build still running?)", ErrUnreachable, path, err)
	}
	defer conn.Close()
	go func() {
		// The go command closes its end of in after "close"; the Serve
		// side has answered by then and closes the connection itself.
		_, _ = io.Copy(conn, in)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	if _, err := io.Copy(out, conn); err != nil {
		return fmt.Errorf("build cache at %s: %w", path, err)
	}
	return nil
}
