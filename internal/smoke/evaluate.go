package smoke

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strings"

	"dagger/go-image/internal/report"
)

// Fixes quoted by failures: the two lines of Go that make a service behave on
// SIGTERM, and where probes belong.
const (
	fixSignal   = "ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT); defer stop(); <-ctx.Done()"
	fixShutdown = "then sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second); srv.Shutdown(sctx) (shorter than terminationGracePeriodSeconds)"
	fixProbes   = "serve /healthz and /readyz from a second http.Server on its own port (e.g. :8081) with its own ServeMux"
	// fixWaitShutdown is for a service that handles SIGTERM but lets main
	// return while Shutdown, called in another goroutine, is still draining.
	fixWaitShutdown = "wait for Shutdown to return before main exits: call srv.Shutdown(sctx) from main after <-ctx.Done(), or have the goroutine that calls it close a done channel and receive from it in main"
	// fixSIGTERMOnly is for a service that seems to have no handler: the
	// usual cause is one that catches os.Interrupt (Ctrl-C) alone.
	fixSIGTERMOnly = "a handler on os.Interrupt or SIGINT alone never runs in a pod, which Kubernetes stops with SIGTERM (go-image lint's sigterm analyzer finds that in the source)"
)

// cleanExit reports whether the process was seen to exit 0 by itself: it
// handled SIGTERM, whatever else went wrong.
func cleanExit(o Observations) bool {
	return o.Exited && !o.Exit.Unknown && o.Exit.Signal == "" && o.Exit.Code == 0
}

// Evaluate judges a run. Every check yields one result; checks that depend on
// a service that never came up are skipped with the reason, never passed.
func Evaluate(cfg Config, o Observations) []report.Result {
	runner := "runner: " + o.Runner
	var out []report.Result
	add := func(id string, st report.Status, msg string, metrics map[string]float64, details ...string) {
		if len(out) == 0 {
			details = append(details, runner)
		}
		out = append(out, report.Result{Gate: "smoke", ID: "smoke/" + id, Status: st, Message: msg, Details: details, Metrics: metrics})
	}
	budget := cfg.StartupBudget.Seconds()
	health := cfg.HealthPath + " on " + port(o.ProbeAddr, cfg.ProbePort)

	// Start-up.
	switch {
	case o.ExitedEarly != nil:
		add("startup", report.Fail, fmt.Sprintf("the process %s before %s answered 200: see its output", exitText(*o.ExitedEarly), health), nil, tail(o.Output)...)
	case !o.Healthy:
		add("startup", report.Fail, fmt.Sprintf("%s did not answer 200 within the %gs start-up budget (last: %s): %s, start it before slow initialisation, and declare how the service is told its ports (--probe-env, --business-env)", health, budget, orNone(o.HealthLast), fixProbes), nil, tail(o.Output)...)
	default:
		add("startup", report.Pass, fmt.Sprintf("%s answered 200 after %.2fs (budget %gs)", health, o.StartupSeconds, budget),
			map[string]float64{"startup_seconds": round(o.StartupSeconds), "startup_budget_seconds": budget})
	}
	notRun := "not run: the service never became healthy"
	if !o.Healthy {
		for _, id := range []string{"health-independent", "business-port", "readiness", "sigterm-drain", "sigterm-readiness", "sigterm-exit"} {
			add(id, report.Skipped, notRun, nil)
		}
		return out
	}

	// Health independent of the business server.
	businessHealth := o.BusinessHealthStatus == 200 && (o.BusinessUnknownStatus != 200 || o.BusinessHealthBody == o.ProbeHealthBody)
	switch {
	case cfg.ProbePort == cfg.BusinessPort:
		add("health-independent", report.Fail, fmt.Sprintf("the probe port equals the business port %d: a saturated or draining business server then fails liveness and the pod is restarted; %s", cfg.BusinessPort, fixProbes), nil)
	case businessHealth:
		add("health-independent", report.Fail, fmt.Sprintf("the business port %s also answers 200 on %s: health is served by the business mux, so it shares its fate; %s, and register no health route on the business mux", port(o.BusinessAddr, cfg.BusinessPort), cfg.HealthPath, fixProbes), nil,
			fmt.Sprintf("business %s -> %d %q; an unknown path -> %d", cfg.HealthPath, o.BusinessHealthStatus, strings.TrimSpace(o.BusinessHealthBody), o.BusinessUnknownStatus))
	case !o.BusinessUp:
		add("health-independent", report.Skipped, "not run: the business port never accepted a connection", nil)
	case o.BusinessHealthErr != "":
		add("health-independent", report.Fail, fmt.Sprintf("the business port %s accepts connections but gave no HTTP answer to %s (%s), three times: a port that answers nothing cannot be shown to keep liveness apart", port(o.BusinessAddr, cfg.BusinessPort), cfg.HealthPath, o.BusinessHealthErr), nil, tail(o.Output)...)
	default:
		add("health-independent", report.Pass, fmt.Sprintf("liveness is served on its own port %s; the business port %s does not serve %s", port(o.ProbeAddr, cfg.ProbePort), port(o.BusinessAddr, cfg.BusinessPort), cfg.HealthPath), nil)
	}

	// Business port.
	if o.BusinessUp {
		add("business-port", report.Pass, fmt.Sprintf("the business port %s accepts connections", port(o.BusinessAddr, cfg.BusinessPort)), nil)
	} else {
		add("business-port", report.Fail, fmt.Sprintf("the business port %s accepted no connection within %gs: the service listens elsewhere, or is not told its port (--business-env, --business-port)", port(o.BusinessAddr, cfg.BusinessPort), budget), nil, tail(o.Output)...)
	}

	// Readiness.
	ready := cfg.ReadyPath + " on " + port(o.ProbeAddr, cfg.ProbePort)
	switch {
	case cfg.ReadyPath == "":
		add("readiness", report.Skipped, "readiness checks disabled (no ready path)", nil)
	case o.ReadyBeforeBusiness:
		add("readiness", report.Fail, fmt.Sprintf("%s answered 200 while the business port refused connections: Kubernetes would route traffic to a pod that cannot serve it; set ready only after net.Listen on the business address succeeded", ready), nil)
	case !o.Ready:
		add("readiness", report.Fail, fmt.Sprintf("%s did not answer 200 within %gs (last: %s): report ready once the business listener accepts connections, or disable the check with an empty ready path", ready, budget, orNone(o.ReadyLast)), nil)
	default:
		add("readiness", report.Pass, fmt.Sprintf("%s answered 200 after %.2fs, with the business port accepting", ready, o.ReadySeconds),
			map[string]float64{"ready_seconds": round(o.ReadySeconds)})
	}

	// SIGTERM: drain.
	switch {
	case !o.TermSent:
		add("sigterm-drain", report.Fail, "SIGTERM could not be sent: "+o.InFlightErr, nil)
	case cfg.SlowPath == "":
		add("sigterm-drain", report.Skipped, "no slow path configured: SIGTERM was sent to an idle service", nil)
	case !o.InFlight:
		add("sigterm-drain", report.Fail, fmt.Sprintf("could not start %s on the business port before SIGTERM (%s): check that the business port is reachable and the slow path exists, or set an empty slow path", cfg.SlowPath, orNone(o.InFlightErr)), nil)
	case o.AnsweredBeforeTerm > 0 && o.AfterTermSent == 0:
		// Nothing was in flight: a pass would claim a drain nobody saw.
		// (With requests sent after SIGTERM, those were: see afterTerm.)
		add("sigterm-drain", report.Fail, fmt.Sprintf("the slow request %s was answered %.2fs before SIGTERM went out, so no request was in flight to drain: give a slow path that takes longer than %s (SIGTERM goes out that long after the request is sent at most)", cfg.SlowPath, o.AnsweredBeforeTerm, freshTermDelay), nil)
	case o.InFlightStatus == 200 && len(o.AfterTermCut) == 0:
		msg := fmt.Sprintf("the in-flight request %s completed with 200 after SIGTERM", cfg.SlowPath)
		if o.AfterTermSent > 0 {
			msg += fmt.Sprintf(", and none of the %d sent while it still listened was cut", o.AfterTermSent)
		}
		add("sigterm-drain", report.Pass, msg, nil)
	default:
		got := orNone(o.InFlightErr)
		if o.InFlightStatus != 0 {
			got = fmt.Sprintf("status %d", o.InFlightStatus)
		}
		what := fmt.Sprintf("the in-flight request %s did not complete (%s)", cfg.SlowPath, got)
		var details []string
		if o.InFlightStatus == 200 {
			// The first request was drained, but the drain started later:
			// requests that arrived meanwhile were cut.
			what = fmt.Sprintf("%d of the %d requests %s sent after SIGTERM, while the service still listened, were read and then cut", len(o.AfterTermCut), o.AfterTermSent, cfg.SlowPath)
			details = append(details, o.AfterTermCut...)
		}
		if cleanExit(o) {
			// It handled SIGTERM (exit 0, promptly) and still cut the
			// request: main returned while Shutdown was draining.
			add("sigterm-drain", report.Fail, fmt.Sprintf("%s, yet the process exited 0 %.2fs after SIGTERM: it handles SIGTERM, but main returned before Shutdown had drained (ListenAndServe returns http.ErrServerClosed as soon as Shutdown starts, not when it ends); %s", what, o.ShutdownSeconds, fixWaitShutdown), nil, append(details, tail(o.Output)...)...)
			break
		}
		add("sigterm-drain", report.Fail, fmt.Sprintf("%s after SIGTERM: the process dropped it instead of draining; %s, %s; %s", what, fixSignal, fixShutdown, fixSIGTERMOnly), nil, append(details, tail(o.Output)...)...)
	}

	// SIGTERM: readiness.
	switch {
	case cfg.ReadyPath == "":
		add("sigterm-readiness", report.Skipped, "readiness checks disabled (no ready path)", nil)
	case !o.TermSent:
		add("sigterm-readiness", report.Skipped, "not run: SIGTERM could not be sent", nil)
	case slices.Contains(o.ReadyAfterTerm, "503"):
		add("sigterm-readiness", report.Pass, fmt.Sprintf("%s turned 503 after SIGTERM (answers: %s)", ready, strings.Join(o.ReadyAfterTerm, " → ")), nil)
	default:
		add("sigterm-readiness", report.Fail, fmt.Sprintf("%s never answered 503 after SIGTERM (answers: %s): mark the pod not ready as the first step of shutdown so endpoints drop it while requests drain; %s", ready, orNone(strings.Join(o.ReadyAfterTerm, " → ")), fixSignal), nil)
	}

	// SIGTERM: exit.
	grace := cfg.Grace.Seconds()
	m := map[string]float64{"shutdown_seconds": round(o.ShutdownSeconds), "grace_seconds": grace}
	switch {
	case !o.TermSent:
		add("sigterm-exit", report.Skipped, "not run: SIGTERM could not be sent", nil)
	case !o.Exited:
		add("sigterm-exit", report.Fail, fmt.Sprintf("the process still ran %gs after SIGTERM, so the kubelet would SIGKILL it mid-request: bound the drain, %s", grace, fixShutdown), nil, tail(o.Output)...)
	case o.Exit.Unknown:
		add("sigterm-exit", report.Pass, fmt.Sprintf("the process stopped %.2fs after SIGTERM (grace %gs); this runner cannot see the exit status", o.ShutdownSeconds, grace), m)
	case o.Exit.Signal != "":
		add("sigterm-exit", report.Fail, fmt.Sprintf("the process was killed by %s after %.2fs: it has no SIGTERM handler, so in-flight requests are cut; %s, %s", o.Exit.Signal, o.ShutdownSeconds, fixSignal, fixShutdown), m, tail(o.Output)...)
	case o.Exit.Code != 0:
		add("sigterm-exit", report.Fail, fmt.Sprintf("the process exited with status %d %.2fs after SIGTERM: a clean drain exits 0 (a Go program without a SIGTERM handler exits 2 when it runs as PID 1, as in a pod; otherwise, is http.ErrServerClosed treated as an error?); %s, %s", o.Exit.Code, o.ShutdownSeconds, fixSignal, fixShutdown), m, tail(o.Output)...)
	default:
		add("sigterm-exit", report.Pass, fmt.Sprintf("the process exited 0 %.2fs after SIGTERM (grace %gs)", o.ShutdownSeconds, grace), m)
	}
	return out
}

func exitText(e Exit) string {
	switch {
	case e.Signal != "":
		return "was killed by " + e.Signal
	case e.Unknown:
		return "stopped"
	}
	return fmt.Sprintf("exited with status %d", e.Code)
}

// port shows an address as the user configured it: ":8081 (run on 127.0.0.1:41234)".
func port(addr string, configured int) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil || p == fmt.Sprint(configured) {
		return fmt.Sprintf(":%d", configured)
	}
	return fmt.Sprintf(":%d (run on %s)", configured, addr)
}

func tail(lines []string) []string {
	if len(lines) == 0 {
		return nil
	}
	const n = 10
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := []string{"process output (tail):"}
	for _, l := range lines {
		out = append(out, "  "+l)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "no answer"
	}
	return s
}

func round(s float64) float64 { return math.Round(s*1000) / 1000 }
