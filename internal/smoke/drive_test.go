package smoke

import (
	"context"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"dagger/go-image/internal/report"
)

// fakeService is a service in this process, for the driver's own
// behaviour: probes and a business server on loopback ports, and what it
// does on SIGTERM (onTerm, run in a goroutine of its own).
type fakeService struct {
	biz, probe *http.Server
	info       Info
	ready      atomic.Bool
	rejecting  atomic.Bool // new business requests get 503
	hanging    atomic.Bool // the ready path never answers
	onTerm     func(s *fakeService)

	once sync.Once
	done chan struct{}
	exit Exit
}

func startFake(t *testing.T, onTerm func(s *fakeService)) *fakeService {
	t.Helper()
	s := &fakeService{onTerm: onTerm, done: make(chan struct{})}
	biz := http.NewServeMux()
	biz.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		if s.rejecting.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		select {
		case <-time.After(d):
			w.Write([]byte("slept\n"))
		case <-r.Context().Done():
		}
	})
	probes := http.NewServeMux()
	probes.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	probes.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.hanging.Load() {
			<-r.Context().Done()
			return
		}
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	s.biz, s.probe = &http.Server{Handler: biz}, &http.Server{Handler: probes}
	for _, x := range []struct {
		srv  *http.Server
		addr *string
	}{{s.biz, &s.info.BusinessAddr}, {s.probe, &s.info.ProbeAddr}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		*x.addr = ln.Addr().String()
		go x.srv.Serve(ln)
	}
	s.ready.Store(true)
	s.info.Runner, s.info.Started = "in-process fake", time.Now()
	t.Cleanup(func() { s.biz.Close(); s.probe.Close() })
	return s
}

func (s *fakeService) finish(code int) {
	s.once.Do(func() {
		s.exit = Exit{Code: code, At: time.Now()}
		close(s.done)
	})
}

func (s *fakeService) Info() Info { return s.info }
func (s *fakeService) Signal(sig os.Signal) error {
	if sig == syscall.SIGTERM {
		go s.onTerm(s)
	}
	return nil
}
func (s *fakeService) Done() <-chan struct{} { return s.done }
func (s *fakeService) Exit() Exit            { <-s.done; return s.exit }
func (s *fakeService) Output() []string      { return nil }
func (s *fakeService) Close() error {
	s.biz.Close()
	s.probe.Close()
	s.finish(-1)
	return nil
}

// drains marks itself unready, waits pause (as services do for the
// endpoints to drop the pod), then shuts down, waiting for its requests.
func drains(pause time.Duration) func(s *fakeService) {
	return func(s *fakeService) {
		s.ready.Store(false)
		time.Sleep(pause)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.biz.Shutdown(ctx)
		s.probe.Shutdown(ctx)
		s.finish(0)
	}
}

// The slow request only shows a drain if the drain starts while it is in
// flight. Whenever the service starts its drain, requests keep arriving
// until then (as they do until the endpoints drop a pod), and those it read
// must be answered: a service that pauses longer than the slow path, then
// exits without draining, fails; one that drains after the same pause, or
// rejects new requests with 503, passes.
func TestDriveSeesTheDrainWheneverItStarts(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.SlowPath, cfg.Grace = "/slow?d=300ms", 10*time.Second
	tests := []struct {
		name    string
		onTerm  func(s *fakeService)
		want    report.Status
		message string
	}{
		{"drains at once", drains(0), report.Pass, "completed with 200 after SIGTERM"},
		{"pauses longer than the slow path, then drains", drains(time.Second), report.Pass, "none of the"},
		{"rejects new requests while it pauses, then drains", func(s *fakeService) {
			s.rejecting.Store(true)
			drains(time.Second)(s)
		}, report.Pass, "completed with 200"},
		{"pauses longer than the slow path, then exits without draining", func(s *fakeService) {
			s.ready.Store(false)
			time.Sleep(time.Second)
			s.biz.Close() // what a main that returns before Shutdown drained does
			s.probe.Close()
			s.finish(0)
		}, report.Fail, "sent after SIGTERM, while the service still listened, were read and then cut"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startFake(t, tt.onTerm)
			defer s.Close()
			o := Drive(context.Background(), cfg, s)
			for _, r := range Evaluate(cfg, o) {
				switch r.ID {
				case "smoke/sigterm-drain":
					if r.Status != tt.want || !strings.Contains(r.Message, tt.message) {
						t.Errorf("sigterm-drain %s %q, want %s saying %q\n%+v", r.Status, r.Message, tt.want, tt.message, o)
					}
				case "smoke/sigterm-readiness", "smoke/sigterm-exit":
					if r.Status != report.Pass {
						t.Errorf("%s %s: %s", r.ID, r.Status, r.Message)
					}
				}
			}
		})
	}
}

// A slow path answered before SIGTERM went out drained nothing: the check
// fails and says to give a slower one, rather than pass unseen.
func TestDriveSlowPathTooFast(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.SlowPath = "/slow?d=10ms"
	s := startFake(t, drains(0))
	defer s.Close()
	for _, r := range Evaluate(cfg, Drive(context.Background(), cfg, s)) {
		if r.ID == "smoke/sigterm-drain" && (r.Status != report.Fail || !strings.Contains(r.Message, "before SIGTERM went out, so no request was in flight")) {
			t.Errorf("sigterm-drain %s %q, want a failure saying nothing was in flight", r.Status, r.Message)
		}
	}
}

// A readiness probe in flight when the process exits is abandoned: a
// stopped Dagger service's address drops connections instead of refusing
// them, and the driver used to wait out each probe's timeout, then report
// it. Here the probe hangs from just before the exit on.
func TestDriveAbandonsProbesAtExit(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.SlowPath = "" // it exits at once, 0.1 s into the hanging probe
	s := startFake(t, func(s *fakeService) {
		s.ready.Store(false)
		time.Sleep(100 * time.Millisecond)
		s.hanging.Store(true)
		time.Sleep(100 * time.Millisecond) // a probe is now waiting
		s.finish(0)
	})
	defer s.Close()
	o := Drive(context.Background(), cfg, s)
	// A probe waited for would end 0.9 s after the exit at the earliest
	// (its 1 s timeout, from 0.1 s before the exit).
	if late := time.Since(s.Exit().At); late > 600*time.Millisecond {
		t.Errorf("Drive returned %s after the process exited: it waited for the hanging probe", late)
	}
	if slices.Contains(o.ReadyAfterTerm, "timeout") || !slices.Contains(o.ReadyAfterTerm, "503") {
		t.Errorf("answers after SIGTERM %v: want the 503, and the probe the exit cut short left out", o.ReadyAfterTerm)
	}
}
