package buildcache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"dagger/go-image/internal/cacheprog"
)

// Serve serves the cache to the go commands of one build step: it listens
// on a unix socket in a new private directory and returns the environment
// that points a go command at it, GOCACHEPROG running Options.Prog (the
// argv of `go-image cacheprog`) with --connect. The GOCACHEPROG child then holds
// neither the registry credentials nor the key: they stay in this process.
// stop closes the socket and ends the sessions; call it when the go
// command has exited, so nothing else that runs later as this user (a
// service under test) can reach the cache.
func (c *Cache) Serve(ctx context.Context) (env []string, stop func(), err error) {
	prog := c.prog
	if len(prog) == 0 {
		return nil, nil, errors.New("build cache: no cache program command (go-image wiring bug)")
	}
	dir, err := os.MkdirTemp("", "go-image-cache-")
	if err != nil {
		return nil, nil, fmt.Errorf("build cache socket: %w", err)
	}
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("build cache socket: %w", err)
	}
	args := append(append([]string(nil), prog...), "--connect", sock, "--dir", c.local.dir)
	line, err := JoinArgs(args)
	if err != nil {
		l.Close()
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("build cache: %w: move go-image or the temporary directory to a path without quotes", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[conn] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := cacheprog.Serve(ctx, conn, conn, c, nil); err != nil && ctx.Err() == nil {
					c.warn("session", fmt.Sprintf("a go command's session ended badly: %v", err))
				}
				conn.Close()
				mu.Lock()
				delete(conns, conn)
				mu.Unlock()
			}()
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			l.Close()
			cancel()
			mu.Lock()
			for conn := range conns {
				conn.Close()
			}
			mu.Unlock()
			wg.Wait()
			os.RemoveAll(dir)
		})
	}
	return []string{"GOCACHEPROG=" + line}, stop, nil
}

// JoinArgs quotes args for GOCACHEPROG, which the go command splits on
// spaces, honouring '…' and "…" without escapes (cmd/internal/quoted).
func JoinArgs(args []string) (string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		single, double := strings.Contains(a, "'"), strings.Contains(a, `"`)
		switch {
		case a == "":
			return "", errors.New("an empty argument cannot be passed in GOCACHEPROG")
		case !strings.ContainsAny(a, " \t\r\n'\""):
			out[i] = a
		case !single:
			out[i] = "'" + a + "'"
		case !double:
			out[i] = `"` + a + `"`
		default:
			return "", fmt.Errorf("argument %q has both kinds of quotes, which GOCACHEPROG cannot carry", a)
		}
	}
	return strings.Join(out, " "), nil
}
