package cacheprog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// memCache is a Cache in memory: DiskPath is a fake path naming the output.
type memCache struct {
	mu      sync.Mutex
	entries map[ID]Entry
	bodies  map[ID][]byte
}

func newMemCache() *memCache {
	return &memCache{entries: map[ID]Entry{}, bodies: map[ID][]byte{}}
}

func (m *memCache) Get(_ context.Context, action ID) (Entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[action]
	return e, ok
}

func (m *memCache) Put(_ context.Context, action, output ID, size int64, body io.Reader) (string, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return "", err
	}
	if sha256.Sum256(b) != output {
		return "", errors.New("body does not hash to OutputID")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	path := "/cache/" + output.String()
	m.entries[action] = Entry{OutputID: output, Size: size, DiskPath: path}
	m.bodies[output] = b
	return path, nil
}

// goSide writes requests exactly as cmd/go/internal/cache.ProgCache does:
// the JSON object and a newline, an empty line, then for a body the base64
// JSON string and a newline.
type goSide struct {
	t   *testing.T
	w   io.Writer
	dec *json.Decoder
	id  int64
}

func (g *goSide) send(cmd Cmd, action, output []byte, body []byte, bodySize int64) int64 {
	g.t.Helper()
	g.id++
	b, _ := json.Marshal(Request{ID: g.id, Command: cmd, ActionID: action, OutputID: output, BodySize: bodySize})
	msg := append(b, '\n', '\n')
	if bodySize > 0 {
		msg = append(msg, '"')
		msg = append(msg, base64.StdEncoding.EncodeToString(body)...)
		msg = append(msg, '"', '\n')
	}
	if _, err := g.w.Write(msg); err != nil {
		g.t.Fatalf("write request: %v", err)
	}
	return g.id
}

func (g *goSide) recv() Response {
	g.t.Helper()
	var r Response
	if err := g.dec.Decode(&r); err != nil {
		g.t.Fatalf("read response: %v", err)
	}
	return r
}

func id(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// start runs Serve on pipes and returns the go side, after checking the
// capability announcement.
func start(t *testing.T, c Cache, onClose func()) (*goSide, io.Closer, <-chan error) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Serve(context.Background(), inR, outW, c, onClose)
		outW.Close()
		done <- err
	}()
	g := &goSide{t: t, w: inW, dec: json.NewDecoder(outR)}
	caps := g.recv()
	if caps.ID != 0 || fmt.Sprint(caps.KnownCommands) != "[get put close]" {
		t.Fatalf("first message = %+v, want ID 0 with get, put, close", caps)
	}
	return g, inW, done
}

func TestServe(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640 kB: longer than the read buffer
	tests := []struct {
		name string
		run  func(t *testing.T, g *goSide, c *memCache)
	}{
		{"get of an unknown action is a miss", func(t *testing.T, g *goSide, c *memCache) {
			n := g.send(CmdGet, id("a"), nil, nil, 0)
			if r := g.recv(); r.ID != n || !r.Miss || r.Err != "" {
				t.Errorf("response = %+v, want a miss", r)
			}
		}},
		{"put then get returns the output", func(t *testing.T, g *goSide, c *memCache) {
			body := []byte("compiled package")
			out := sha256.Sum256(body)
			g.send(CmdPut, id("a"), out[:], body, int64(len(body)))
			if r := g.recv(); r.Err != "" || r.DiskPath != "/cache/"+ID(out).String() {
				t.Fatalf("put response = %+v", r)
			}
			g.send(CmdGet, id("a"), nil, nil, 0)
			r := g.recv()
			if r.Miss || !bytes.Equal(r.OutputID, out[:]) || r.Size != int64(len(body)) || r.DiskPath == "" {
				t.Errorf("get response = %+v, want the put output", r)
			}
			if !bytes.Equal(c.bodies[out], body) {
				t.Errorf("stored body = %q", c.bodies[out])
			}
		}},
		{"empty body has no body line", func(t *testing.T, g *goSide, c *memCache) {
			out := sha256.Sum256(nil)
			g.send(CmdPut, id("e"), out[:], nil, 0)
			if r := g.recv(); r.Err != "" || r.DiskPath == "" {
				t.Fatalf("put response = %+v", r)
			}
			// The next request is read from the right place.
			g.send(CmdGet, id("e"), nil, nil, 0)
			if r := g.recv(); r.Miss || r.Size != 0 {
				t.Errorf("get response = %+v", r)
			}
		}},
		{"a body longer than the read buffer streams", func(t *testing.T, g *goSide, c *memCache) {
			out := sha256.Sum256(big)
			g.send(CmdPut, id("big"), out[:], big, int64(len(big)))
			if r := g.recv(); r.Err != "" {
				t.Fatalf("put response = %+v", r)
			}
			if !bytes.Equal(c.bodies[out], big) {
				t.Errorf("stored %d bytes, want %d", len(c.bodies[out]), len(big))
			}
		}},
		{"a body that does not hash to OutputID is refused, and the stream goes on", func(t *testing.T, g *goSide, c *memCache) {
			body := []byte("x")
			g.send(CmdPut, id("a"), id("not x"), body, 1)
			if r := g.recv(); r.Err == "" {
				t.Errorf("put response = %+v, want an error", r)
			}
			g.send(CmdGet, id("a"), nil, nil, 0)
			if r := g.recv(); !r.Miss {
				t.Errorf("get response = %+v, want a miss", r)
			}
		}},
		{"a body longer than BodySize is refused", func(t *testing.T, g *goSide, c *memCache) {
			body := []byte("xyz")
			out := sha256.Sum256(body[:2])
			g.send(CmdPut, id("a"), out[:], body, 2)
			if r := g.recv(); !strings.Contains(r.Err, "body size") {
				t.Errorf("put response = %+v, want a size error", r)
			}
		}},
		{"a body shorter than BodySize is refused", func(t *testing.T, g *goSide, c *memCache) {
			body := []byte("xy")
			out := sha256.Sum256(body)
			g.send(CmdPut, id("a"), out[:], body, 3)
			if r := g.recv(); !strings.Contains(r.Err, "body size") {
				t.Errorf("put response = %+v, want a size error", r)
			}
			g.send(CmdGet, id("a"), nil, nil, 0)
			if r := g.recv(); !r.Miss {
				t.Errorf("get response = %+v, want a miss", r)
			}
		}},
		{"IDs of the wrong length are refused", func(t *testing.T, g *goSide, c *memCache) {
			g.send(CmdGet, []byte("short"), nil, nil, 0)
			if r := g.recv(); !strings.Contains(r.Err, "32 bytes") {
				t.Errorf("get response = %+v", r)
			}
			g.send(CmdPut, id("a"), []byte("short"), []byte("b"), 1)
			if r := g.recv(); !strings.Contains(r.Err, "32 bytes") {
				t.Errorf("put response = %+v", r)
			}
			g.send(CmdGet, id("a"), nil, nil, 0)
			if r := g.recv(); !r.Miss {
				t.Errorf("get after refused put = %+v, want a miss", r)
			}
		}},
		{"an unknown command gets an error answer", func(t *testing.T, g *goSide, c *memCache) {
			n := g.send("get2", id("a"), nil, nil, 0)
			if r := g.recv(); r.ID != n || !strings.Contains(r.Err, "unknown command") {
				t.Errorf("response = %+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newMemCache()
			closed := false
			g, in, done := start(t, c, func() { closed = true })
			tt.run(t, g, c)
			n := g.send(CmdClose, nil, nil, nil, 0)
			if r := g.recv(); r.ID != n || r.Err != "" {
				t.Errorf("close response = %+v", r)
			}
			in.Close()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			if !closed {
				t.Error("onClose did not run")
			}
		})
	}
}

// slowCache answers gets after release is closed, to show that gets are
// answered concurrently and out of order.
type slowCache struct {
	memCache
	release chan struct{}
}

func (s *slowCache) Get(ctx context.Context, action ID) (Entry, bool) {
	if ID(action) == ID(sha256.Sum256([]byte("slow"))) {
		<-s.release
	}
	return s.memCache.Get(ctx, action)
}

func TestServeAnswersGetsOutOfOrder(t *testing.T) {
	c := &slowCache{memCache: *newMemCache(), release: make(chan struct{})}
	g, in, done := start(t, c, nil)
	slow := g.send(CmdGet, id("slow"), nil, nil, 0)
	fast := g.send(CmdGet, id("fast"), nil, nil, 0)
	if r := g.recv(); r.ID != fast {
		t.Fatalf("first answer is for %d, want the fast get %d", r.ID, fast)
	}
	close(c.release)
	if r := g.recv(); r.ID != slow {
		t.Fatalf("second answer is for %d, want %d", r.ID, slow)
	}
	in.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServeWaitsForGetsBeforeClose(t *testing.T) {
	c := &slowCache{memCache: *newMemCache(), release: make(chan struct{})}
	g, in, done := start(t, c, nil)
	slow := g.send(CmdGet, id("slow"), nil, nil, 0)
	cl := g.send(CmdClose, nil, nil, nil, 0)
	time.AfterFunc(50*time.Millisecond, func() { close(c.release) })
	if r := g.recv(); r.ID != slow {
		t.Fatalf("answer %d before the pending get %d", r.ID, slow)
	}
	if r := g.recv(); r.ID != cl {
		t.Fatalf("answer %d, want the close %d", r.ID, cl)
	}
	in.Close()
	<-done
}

func TestServeProtocolErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"not JSON", "hello\n", "GOCACHEPROG request"},
		{"body not a string", `{"ID":1,"Command":"put","ActionID":"` + b64(id("a")) + `","OutputID":"` + b64(id("o")) + `","BodySize":3}` + "\n\n[1,2]\n", "want a JSON string"},
		{"body cut short", `{"ID":1,"Command":"put","ActionID":"` + b64(id("a")) + `","OutputID":"` + b64(id("o")) + `","BodySize":3}` + "\n\n\"eHl6", "unexpected EOF"},
		{"negative size", `{"ID":1,"Command":"put","BodySize":-1}` + "\n", "negative BodySize"},
		{"request line too long", strings.Repeat("x", MaxRequestLine+10) + "\n", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Serve(context.Background(), strings.NewReader(tt.input), &out, newMemCache(), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Serve = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestServeEndOfInputRunsOnClose(t *testing.T) {
	closed := false
	var out bytes.Buffer
	if err := Serve(context.Background(), strings.NewReader(""), &out, newMemCache(), func() { closed = true }); err != nil {
		t.Fatal(err)
	}
	if !closed {
		t.Error("onClose did not run at the end of input")
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestProxy(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := newMemCache()
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		_ = Serve(context.Background(), conn, conn, c, nil)
		conn.Close()
	}()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Proxy(context.Background(), sock, inR, outW); outW.Close() }()
	g := &goSide{t: t, w: inW, dec: json.NewDecoder(outR)}
	if r := g.recv(); len(r.KnownCommands) != 3 {
		t.Fatalf("capabilities through the proxy = %+v", r)
	}
	body := []byte("through the socket")
	out := sha256.Sum256(body)
	g.send(CmdPut, id("a"), out[:], body, int64(len(body)))
	if r := g.recv(); r.Err != "" {
		t.Fatalf("put = %+v", r)
	}
	g.send(CmdClose, nil, nil, nil, 0)
	g.recv()
	inW.Close()
	if err := <-done; err != nil {
		t.Fatalf("Proxy: %v", err)
	}
	if !bytes.Equal(c.bodies[out], body) {
		t.Error("the body did not reach the cache behind the socket")
	}
}

func TestProxyNoServer(t *testing.T) {
	err := Proxy(context.Background(), filepath.Join(t.TempDir(), "none"), strings.NewReader(""), io.Discard)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "still running") {
		t.Errorf("Proxy = %v, want the cause", err)
	}
}

func TestParseID(t *testing.T) {
	want := ID(sha256.Sum256([]byte("x")))
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{want.String(), true},
		{strings.ToUpper(want.String()), true},
		{want.String()[:63], false},
		{want.String() + "0", false},
		{strings.Repeat("g", 64), false},
		{"", false},
	} {
		got, err := ParseID(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != want) {
			t.Errorf("ParseID(%q) = %v, %v; ok want %v", tt.in, got, err, tt.ok)
		}
	}
}
