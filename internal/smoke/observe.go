package smoke

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"dagger/go-image/internal/timing"
)

// Observations are the measured facts of one smoke run; Evaluate judges them.
// They are plain data so that any runner (a local process, a Dagger
// service) can fill them in.
type Observations struct {
	Runner       string `json:"runner"`
	BusinessAddr string `json:"businessAddr"`
	ProbeAddr    string `json:"probeAddr"`

	// Healthy: the health path answered 200 within the start-up budget,
	// StartupSeconds after the process started.
	Healthy         bool    `json:"healthy"`
	StartupSeconds  float64 `json:"startupSeconds,omitempty"`
	HealthLast      string  `json:"healthLast,omitempty"` // last failed answer while waiting
	ProbeHealthBody string  `json:"probeHealthBody,omitempty"`
	// ExitedEarly is set when the process ended before it became healthy.
	ExitedEarly *Exit `json:"exitedEarly,omitempty"`

	// Ready: the ready path answered 200, ReadySeconds after start.
	Ready        bool    `json:"ready"`
	ReadySeconds float64 `json:"readySeconds,omitempty"`
	ReadyLast    string  `json:"readyLast,omitempty"`
	// ReadyBeforeBusiness: the ready path answered 200 while the business
	// port refused connections.
	ReadyBeforeBusiness bool `json:"readyBeforeBusiness,omitempty"`

	// BusinessUp: the business port accepted a connection within the budget.
	BusinessUp bool `json:"businessUp"`
	// The business port's answers on the health path and on a path no
	// service serves: a 200 on the first and not on the second means the
	// business mux serves health.
	BusinessHealthStatus  int    `json:"businessHealthStatus,omitempty"`
	BusinessHealthBody    string `json:"businessHealthBody,omitempty"`
	BusinessUnknownStatus int    `json:"businessUnknownStatus,omitempty"`
	// BusinessHealthErr is why the business port gave no HTTP answer to
	// the health path (after retries): then nothing is known about it.
	BusinessHealthErr string `json:"businessHealthErr,omitempty"`

	TermSent bool `json:"termSent"`
	// InFlight: the slow request had been sent when SIGTERM went out.
	InFlight bool `json:"inFlight"`
	// AnsweredBeforeTerm is how long before SIGTERM went out the slow
	// request was answered (0: it was not): then it was not in flight,
	// and only requests sent after SIGTERM can show the drain.
	AnsweredBeforeTerm float64 `json:"answeredBeforeTerm,omitempty"`
	InFlightStatus     int     `json:"inFlightStatus,omitempty"`
	InFlightErr        string  `json:"inFlightErr,omitempty"`
	// AfterTermSent counts the slow requests sent after SIGTERM, while the
	// service still accepted connections (afterTermEvery). AfterTermCut
	// lists those the service read and then dropped without an answer
	// (reset, closed): what a pod does to traffic that reaches it before
	// the endpoints drop it, when it exits before its drain is done.
	AfterTermSent int      `json:"afterTermSent,omitempty"`
	AfterTermCut  []string `json:"afterTermCut,omitempty"`
	// ReadyAfterTerm lists the distinct answers of the ready path after
	// SIGTERM in order ("200", "503", "refused", ...).
	ReadyAfterTerm []string `json:"readyAfterTerm,omitempty"`
	// Exited: the process ended within the grace period, ShutdownSeconds
	// after SIGTERM.
	Exited          bool    `json:"exited"`
	Exit            Exit    `json:"exit"`
	ShutdownSeconds float64 `json:"shutdownSeconds,omitempty"`

	Output []string `json:"output,omitempty"`
}

// The driver's waits. None of them is a fixed share of a smoke run: the
// run lasts as long as the service takes to start, and the slow request
// to complete.
const (
	// pollEvery is the longest wait between two probes while the service
	// starts; the first probes come sooner (firstPoll, doubling), since
	// a Go service is usually up within milliseconds.
	pollEvery = 50 * time.Millisecond
	firstPoll = 5 * time.Millisecond
	// termPoll is the wait between two readiness probes after SIGTERM:
	// the 503 is seen only while the service drains.
	termPoll = 20 * time.Millisecond
	// termDelay is how long after the slow request is written SIGTERM
	// goes out, for the service to read the request (it is in flight only
	// once read) off a connection it has already answered on. On a new
	// connection (the service closed the first one) it is freshTermDelay:
	// the request may then still wait in the listen queue, where SIGTERM's
	// Shutdown closes it unserved. With the default slow path (0.5 s), a
	// Go service's drain then ends about 0.25 s after SIGTERM, where
	// http.Server.Shutdown's polling (1 ms, doubling) looks again at
	// 0.255 s; half a second later, it would look only at 0.511 s.
	termDelay      = 250 * time.Millisecond
	freshTermDelay = 350 * time.Millisecond
	// afterTermEvery is how often one more slow request goes out after
	// SIGTERM, until the service stops listening: so that whenever its
	// drain starts (at once, or after a pause for the endpoints to catch
	// up), requests it has read are in flight, and whether it cuts them
	// is seen, however short the slow path. At most maxAfterTerm are in
	// flight at once.
	afterTermEvery = 250 * time.Millisecond
	maxAfterTerm   = 64
	// acceptedWithin: a request cut sooner after it was written may still
	// have been in the listen queue a Shutdown closed, never read by the
	// service; it is not counted against it.
	acceptedWithin = 100 * time.Millisecond
	// afterExitWait bounds the wait for the requests still open when the
	// process exited: their answers or resets come at once, unless the
	// network went with the process.
	afterExitWait = time.Second
)

// backoff is the next wait between probes: doubled, at most pollEvery.
func backoff(d time.Duration) time.Duration { return min(2*d, pollEvery) }

// Dialer is implemented by a Process that the driver must reach through
// its runner: one in a network namespace of its own.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// dialerOf is how the driver reaches p.
func dialerOf(p Process) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if d, ok := p.(Dialer); ok {
		return d.DialContext
	}
	return (&net.Dialer{}).DialContext
}

// Drive probes p the way the kubelet and the endpoints controller would and
// records what it saw. It sends SIGTERM but leaves killing and cleanup to
// p.Close.
func Drive(ctx context.Context, cfg Config, p Process) (obs Observations) {
	info := p.Info()
	obs = Observations{Runner: info.Runner, BusinessAddr: info.BusinessAddr, ProbeAddr: info.ProbeAddr}
	defer func() { obs.Output = p.Output() }()

	// A fresh connection per probe, like the kubelet: a kept-alive
	// connection would hide a server that stopped accepting.
	d := dialerOf(p)
	probe := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: d}}
	healthURL := "http://" + info.ProbeAddr + cfg.HealthPath
	readyURL := "http://" + info.ProbeAddr + cfg.ReadyPath
	deadline := info.Started.Add(cfg.StartupBudget)
	since := func() float64 { return time.Since(info.Started).Seconds() }
	end := timing.Start(ctx, "smoke: start-up and probes")
	defer func() { end() }()

	wait := firstPoll
	for {
		if !obs.Healthy {
			st, body, err := get(ctx, probe, healthURL)
			if st == http.StatusOK {
				obs.Healthy, obs.StartupSeconds, obs.ProbeHealthBody = true, since(), body
			} else {
				obs.HealthLast = answer(st, err)
			}
		}
		if cfg.ReadyPath != "" && !obs.Ready {
			st, _, err := get(ctx, probe, readyURL)
			if st == http.StatusOK {
				obs.Ready, obs.ReadySeconds = true, since()
				// Ready was claimed: from now on the business port must
				// accept, or the pod receives traffic it cannot serve.
				if !dial(ctx, d, info.BusinessAddr) {
					obs.ReadyBeforeBusiness = true
				}
			} else {
				obs.ReadyLast = answer(st, err)
			}
		}
		if obs.Healthy && (cfg.ReadyPath == "" || obs.Ready) {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-p.Done():
			e := p.Exit()
			obs.ExitedEarly = &e
			return obs
		case <-ctx.Done():
			return obs
		case <-time.After(wait):
		}
		wait = backoff(wait)
	}
	if !obs.Healthy {
		return obs
	}
	for wait = firstPoll; !obs.BusinessUp; wait = backoff(wait) {
		obs.BusinessUp = dial(ctx, d, info.BusinessAddr)
		if obs.BusinessUp || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(wait)
	}
	// The business requests keep their connection: the slow request
	// reuses the one the service answered the unknown path on (terminate).
	business := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: d, MaxIdleConnsPerHost: 1}}
	defer business.CloseIdleConnections()
	if obs.BusinessUp {
		var body string
		// An error is no answer: retried, and never read as "does not
		// serve the health path" (a loaded machine times a request out).
		var err error
		obs.BusinessHealthStatus, body, err = getAnswer(ctx, probe, "http://"+info.BusinessAddr+cfg.HealthPath)
		obs.BusinessHealthBody = body
		if err != nil {
			obs.BusinessHealthErr = err.Error()
		}
		obs.BusinessUnknownStatus, _, _ = getAnswer(ctx, business, "http://"+info.BusinessAddr+"/go-image-smoke-"+nonce())
	}
	end()
	end = timing.Start(ctx, "smoke: SIGTERM, drain and exit")
	terminate(ctx, cfg, p, business.Transport, &obs)
	return obs
}

// terminate sends SIGTERM with the slow request in flight, watches the ready
// path while the service drains, and waits up to the grace period for exit.
// The slow request goes through business, whose idle connection the
// service has already accepted and answered on.
func terminate(ctx context.Context, cfg Config, p Process, business http.RoundTripper, obs *Observations) {
	info := p.Info()
	d := dialerOf(p)
	type result struct {
		status     int
		err        error
		answeredAt time.Time
	}
	var inflight chan result
	if cfg.SlowPath != "" && obs.BusinessUp {
		inflight = make(chan result, 1)
		wrote := make(chan struct{})
		rctx, cancel := context.WithTimeout(ctx, cfg.Grace+5*time.Second)
		defer cancel()
		// The transport's goroutines call these, and call them again when
		// it retries the request on a new connection (the kept one was
		// closed meanwhile).
		var reused atomic.Bool
		var answered atomic.Int64
		var once sync.Once
		trace := &httptrace.ClientTrace{
			GotConn:              func(c httptrace.GotConnInfo) { reused.Store(c.Reused) },
			WroteRequest:         func(httptrace.WroteRequestInfo) { once.Do(func() { close(wrote) }) },
			GotFirstResponseByte: func() { answered.Store(time.Now().UnixNano()) },
		}
		answeredAt := func() time.Time {
			if n := answered.Load(); n != 0 {
				return time.Unix(0, n)
			}
			return time.Time{}
		}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(rctx, trace), http.MethodGet, "http://"+info.BusinessAddr+cfg.SlowPath, nil)
		go func() {
			resp, err := (&http.Client{Transport: business}).Do(req)
			if err != nil {
				inflight <- result{0, err, answeredAt()}
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			inflight <- result{resp.StatusCode, err, answeredAt()}
		}()
		select {
		case <-wrote:
			obs.InFlight = true
			// Let the server read the request: Shutdown waits for requests
			// it has started, which is what this checks.
			delay := termDelay
			if !reused.Load() {
				delay = freshTermDelay
			}
			time.Sleep(delay)
		case <-time.After(2 * time.Second):
		}
	}

	termAt := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		obs.InFlightErr = fmt.Sprintf("could not send SIGTERM: %v", err)
		return
	}
	obs.TermSent = true
	graceEnd := termAt.Add(cfg.Grace)
	if cfg.SlowPath != "" && obs.BusinessUp {
		stop := afterTerm(ctx, cfg, p, termAt, obs)
		defer stop()
	}
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: d}}
	readyURL := "http://" + info.ProbeAddr + cfg.ReadyPath
	// A probe in flight when the process exits is abandoned, not waited
	// for: a stopped Dagger service's address drops connections rather
	// than refusing them, and each would wait out its timeout.
	pctx := untilDone(ctx, p)
	exited := false
	for !exited && time.Now().Before(graceEnd) && ctx.Err() == nil {
		if cfg.ReadyPath != "" {
			st, _, err := get(pctx, probe, readyURL)
			if a := answer(st, err); pctx.Err() == nil || err == nil {
				if n := len(obs.ReadyAfterTerm); n == 0 || obs.ReadyAfterTerm[n-1] != a {
					obs.ReadyAfterTerm = append(obs.ReadyAfterTerm, a)
				}
			}
		}
		select {
		case <-p.Done():
			exited = true
		case <-ctx.Done():
		case <-time.After(termPoll):
		}
	}
	if exited {
		obs.Exited, obs.Exit = true, p.Exit()
		obs.ShutdownSeconds = obs.Exit.At.Sub(termAt).Seconds()
	}
	if inflight != nil {
		select {
		case r := <-inflight:
			obs.InFlightStatus = r.status
			if r.err != nil {
				obs.InFlightErr = r.err.Error()
			}
			if !r.answeredAt.IsZero() && r.answeredAt.Before(termAt) {
				obs.AnsweredBeforeTerm = termAt.Sub(r.answeredAt).Seconds()
			}
		case <-time.After(5 * time.Second):
			obs.InFlightErr = "no answer 5s after the process exited or the grace period ended"
		}
	}
}

// untilDone is ctx, also done once p has exited.
func untilDone(ctx context.Context, p Process) context.Context {
	c, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		select {
		case <-p.Done():
		case <-c.Done():
		}
	}()
	return c
}

// afterTerm sends one more slow request every afterTermEvery, each on a
// connection of its own, from SIGTERM on until the service refuses a
// connection (it stopped listening), exits, or ctx ends, and records in
// obs those the service read and then cut. The returned function stops
// sending, waits for the requests (each ends when answered, or when the
// process is gone) and fills in obs; call it once the process exited or
// the grace period ended. A request cut less than acceptedWithin after it was
// written may never have been accepted (a Shutdown closes its listener's
// queue): it is not counted against the service.
func afterTerm(ctx context.Context, cfg Config, p Process, termAt time.Time, obs *Observations) (stop func()) {
	d := dialerOf(p)
	addr := p.Info().BusinessAddr
	rctx, cancel := context.WithTimeout(ctx, cfg.Grace+5*time.Second)
	quit := make(chan struct{})
	var (
		mu   sync.Mutex
		cuts []string
		sent int
		wg   sync.WaitGroup
	)
	slots := make(chan struct{}, maxAfterTerm)
	send := func(conn net.Conn) {
		defer wg.Done()
		defer func() { <-slots }()
		var wrote atomic.Int64 // the transport's goroutines write it
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(time.Now().UnixNano()) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(rctx, trace), http.MethodGet, "http://"+addr+cfg.SlowPath, nil)
		used := false
		tr := &http.Transport{DisableKeepAlives: true, DialContext: func(context.Context, string, string) (net.Conn, error) {
			if used {
				return nil, errors.New("one connection per request")
			}
			used = true
			return conn, nil
		}}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err == nil || wrote.Load() == 0 {
			return
		}
		wroteAt, cutAt := time.Unix(0, wrote.Load()), time.Now()
		if rctx.Err() != nil {
			// Cancelled here: the process outlived the grace period
			// (sigterm-exit fails it; its requests are not judged), or it
			// exited and left the request hanging on a network that went
			// with it (a Dagger service's): cut at the exit.
			select {
			case <-p.Done():
				cutAt = p.Exit().At
			default:
				return
			}
		}
		if held := cutAt.Sub(wroteAt); held >= acceptedWithin {
			mu.Lock()
			cuts = append(cuts, fmt.Sprintf("sent %.2fs after SIGTERM, cut after %.2fs (%s)", wroteAt.Sub(termAt).Seconds(), held.Seconds(), answer(0, err)))
			mu.Unlock()
		}
	}
	// A dial in flight when the process exits is abandoned (see terminate).
	alive := untilDone(rctx, p)
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		tick := time.NewTicker(afterTermEvery)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
			case <-quit:
				return
			case <-p.Done():
				return
			case <-rctx.Done():
				return
			}
			select {
			case slots <- struct{}{}:
			default:
				continue // maxAfterTerm in flight: the service is not done with them
			}
			dctx, dcancel := context.WithTimeout(alive, time.Second)
			conn, err := d(dctx, "tcp", addr)
			dcancel()
			if err != nil {
				<-slots
				return // it stopped listening (or cannot be reached): its drain has begun
			}
			mu.Lock()
			sent++
			mu.Unlock()
			wg.Add(1)
			go send(conn)
		}
	}()
	return func() {
		close(quit)
		<-loopDone
		waited := make(chan struct{})
		go func() { wg.Wait(); close(waited) }()
		select {
		case <-p.Done():
			// An exited process's requests end at once, answered or cut;
			// one still open afterExitWait later hangs (see send).
			select {
			case <-waited:
			case <-time.After(afterExitWait):
			}
		default:
			// Still running after the grace period.
		}
		cancel()
		<-waited
		mu.Lock()
		obs.AfterTermSent, obs.AfterTermCut = sent, cuts
		mu.Unlock()
	}
}

// getAnswer is get until the server answers, at most three times.
func getAnswer(ctx context.Context, c *http.Client, url string) (int, string, error) {
	var err error
	for try := 0; try < 3; try++ {
		var st int
		var body string
		if st, body, err = get(ctx, c, url); err == nil {
			return st, body, nil
		}
		select {
		case <-ctx.Done():
			return 0, "", ctx.Err()
		case <-time.After(pollEvery):
		}
	}
	return 0, "", err
}

// get fetches url and returns the status and the first KiB of the body.
func get(ctx context.Context, c *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return resp.StatusCode, string(b), nil
}

// answer renders an HTTP answer or the reason there was none, briefly.
func answer(status int, err error) string {
	switch {
	case err == nil:
		return strconv.Itoa(status)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), strings.Contains(err.Error(), "EOF"):
		return "reset"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error"
}

func dial(ctx context.Context, d func(ctx context.Context, network, addr string) (net.Conn, error), addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := d(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func nonce() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
