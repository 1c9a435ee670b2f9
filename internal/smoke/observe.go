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
	InFlight       bool   `json:"inFlight"`
	InFlightStatus int    `json:"inFlightStatus,omitempty"`
	InFlightErr    string `json:"inFlightErr,omitempty"`
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

const pollEvery = 50 * time.Millisecond

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
		case <-time.After(pollEvery):
		}
	}
	if !obs.Healthy {
		return obs
	}
	for !obs.BusinessUp {
		obs.BusinessUp = dial(ctx, d, info.BusinessAddr)
		if obs.BusinessUp || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(pollEvery)
	}
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
		obs.BusinessUnknownStatus, _, _ = getAnswer(ctx, probe, "http://"+info.BusinessAddr+"/go-image-smoke-"+nonce())
	}
	end()
	end = timing.Start(ctx, "smoke: SIGTERM, drain and exit")
	terminate(ctx, cfg, p, &obs)
	return obs
}

// terminate sends SIGTERM with the slow request in flight, watches the ready
// path while the service drains, and waits up to the grace period for exit.
func terminate(ctx context.Context, cfg Config, p Process, obs *Observations) {
	info := p.Info()
	d := dialerOf(p)
	type result struct {
		status int
		err    error
	}
	var inflight chan result
	if cfg.SlowPath != "" && obs.BusinessUp {
		inflight = make(chan result, 1)
		wrote := make(chan struct{})
		rctx, cancel := context.WithTimeout(ctx, cfg.Grace+5*time.Second)
		defer cancel()
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(rctx, trace), http.MethodGet, "http://"+info.BusinessAddr+cfg.SlowPath, nil)
		go func() {
			resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: d}}).Do(req)
			if err != nil {
				inflight <- result{0, err}
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			inflight <- result{resp.StatusCode, err}
		}()
		select {
		case <-wrote:
			obs.InFlight = true
			// Let the server read the request: Shutdown waits for requests
			// it has started, which is what this checks.
			time.Sleep(500 * time.Millisecond)
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
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: d}}
	readyURL := "http://" + info.ProbeAddr + cfg.ReadyPath
	exited := false
	for !exited && time.Now().Before(graceEnd) && ctx.Err() == nil {
		if cfg.ReadyPath != "" {
			st, _, err := get(ctx, probe, readyURL)
			a := answer(st, err)
			if n := len(obs.ReadyAfterTerm); n == 0 || obs.ReadyAfterTerm[n-1] != a {
				obs.ReadyAfterTerm = append(obs.ReadyAfterTerm, a)
			}
		}
		select {
		case <-p.Done():
			exited = true
		case <-ctx.Done():
		case <-time.After(pollEvery):
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
		case <-time.After(5 * time.Second):
			obs.InFlightErr = "no answer 5s after the process exited or the grace period ended"
		}
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
