package smoke

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClientScript drives a service from a separate container, for runners that
// cannot reach the service from Go (the Dagger module binds the service to a
// client container as host $APP). It needs sh, awk and curl. PHASE=start
// waits for health and readiness and probes the business port; PHASE=term
// sends the slow request and then watches readiness until the service is
// gone. Every output line is "<uptime> <event> [value]": uptime is the
// kernel's /proc/uptime, shared by every container on the host, so the
// events can be ordered against the moment the runner sent SIGTERM.
const ClientScript = `set -u
up() { cut -d' ' -f1 /proc/uptime; }
# answer URL: the HTTP status, or refused/reset/timeout/error.
answer() {
	c=$(curl -s -o /tmp/body -w '%{http_code}' --max-time 2 "$1" 2>/dev/null); rc=$?
	case $rc in
	0) echo "$c" ;;
	7) echo refused ;;
	52|56) echo reset ;;
	28) echo timeout ;;
	*) echo error ;;
	esac
}
base="http://$APP"
if [ "$PHASE" = start ]; then
	end=$(awk -v u="$(up)" -v b="$BUDGET" 'BEGIN { print u + b }')
	healthy=0; ready=0; [ -z "$READY" ] && ready=1
	while :; do
		if [ $healthy = 0 ]; then
			a=$(answer "$base:$PROBE$HEALTH")
			if [ "$a" = 200 ]; then healthy=1; echo "$(up) health $(base64 /tmp/body | tr -d '\n')"; else echo "$(up) health-last $a"; fi
		fi
		if [ $ready = 0 ]; then
			a=$(answer "$base:$PROBE$READY")
			if [ "$a" = 200 ]; then
				ready=1; echo "$(up) ready"
				[ "$(answer "$base:$BUSINESS/")" = refused ] && echo "$(up) ready-before-business"
			else echo "$(up) ready-last $a"; fi
		fi
		[ $healthy = 1 ] && [ $ready = 1 ] && break
		awk -v u="$(up)" -v e="$end" 'BEGIN { exit !(u > e) }' && break
		sleep 0.05
	done
	[ $healthy = 1 ] || exit 0
	while :; do
		a=$(answer "$base:$BUSINESS/")
		[ "$a" != refused ] && [ "$a" != timeout ] && { echo "$(up) business-up"; break; }
		awk -v u="$(up)" -v e="$end" 'BEGIN { exit !(u > e) }' && exit 0
		sleep 0.05
	done
	echo "$(up) business-health $(answer "$base:$BUSINESS$HEALTH") $(base64 /tmp/body | tr -d '\n')"
	echo "$(up) business-unknown $(answer "$base:$BUSINESS/go-image-smoke-$$")"
	exit 0
fi
# PHASE=term
if [ -n "$SLOW" ]; then
	( echo "$(up) slow-sent"; c=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$GRACE" "$base:$BUSINESS$SLOW" 2>/dev/null); rc=$?; echo "$(up) slow-done $c $rc" ) &
fi
end=$(awk -v u="$(up)" -v g="$GRACE" 'BEGIN { print u + g + 5 }')
gone=0
while :; do
	if [ -n "$READY" ]; then a=$(answer "$base:$PROBE$READY"); else a=$(answer "$base:$PROBE$HEALTH"); fi
	echo "$(up) ready-answer $a"
	case $a in refused|error) gone=$((gone + 1)) ;; *) gone=0 ;; esac
	[ $gone -ge 5 ] && break
	awk -v u="$(up)" -v e="$end" 'BEGIN { exit !(u > e) }' && break
	sleep 0.05
done
wait
`

// ClientEnv is the environment of ClientScript for one phase. host is the
// service's address as the client sees it; the ports are the service's own.
func ClientEnv(cfg Config, host, phase string) map[string]string {
	return map[string]string{
		"APP": host, "PHASE": phase,
		"BUSINESS": strconv.Itoa(cfg.BusinessPort), "PROBE": strconv.Itoa(cfg.ProbePort),
		"HEALTH": cfg.HealthPath, "READY": cfg.ReadyPath, "SLOW": cfg.SlowPath,
		"BUDGET": fmt.Sprintf("%g", cfg.StartupBudget.Seconds()), "GRACE": fmt.Sprintf("%g", cfg.Grace.Seconds()),
	}
}

// ClientRun is what a script-driven run recorded, with times in seconds of
// host uptime (Uptime).
type ClientRun struct {
	Runner string
	// Started is when the runner asked for the service; StartErr is set if
	// the service could not be started.
	Started  float64
	StartErr error
	// Start and Term are the outputs of the two ClientScript phases.
	Start, Term string
	// TermSent and Stopped bracket the runner's SIGTERM-and-wait; StopErr is
	// what the stop returned.
	TermSent, Stopped float64
	StopErr           error
	// Grace is how long the runner waited for the stop at most.
	Grace time.Duration
}

// Observe turns a script-driven run into Observations for Evaluate.
func (r ClientRun) Observe(cfg Config) Observations {
	o := Observations{Runner: r.Runner, BusinessAddr: fmt.Sprintf("app:%d", cfg.BusinessPort), ProbeAddr: fmt.Sprintf("app:%d", cfg.ProbePort)}
	if r.StartErr != nil {
		o.HealthLast = r.StartErr.Error()
		return o
	}
	for _, l := range lines(r.Start) {
		switch l.event {
		case "health":
			o.Healthy, o.StartupSeconds = true, l.at-r.Started
			b, _ := base64.StdEncoding.DecodeString(l.arg(0))
			o.ProbeHealthBody = string(b)
		case "health-last":
			o.HealthLast = l.arg(0)
		case "ready":
			o.Ready, o.ReadySeconds = true, l.at-r.Started
		case "ready-last":
			o.ReadyLast = l.arg(0)
		case "ready-before-business":
			o.ReadyBeforeBusiness = true
		case "business-up":
			o.BusinessUp = true
		case "business-health":
			o.BusinessHealthStatus, _ = strconv.Atoi(l.arg(0))
			b, _ := base64.StdEncoding.DecodeString(l.arg(1))
			o.BusinessHealthBody = string(b)
		case "business-unknown":
			o.BusinessUnknownStatus, _ = strconv.Atoi(l.arg(0))
		}
	}
	if !o.Healthy || r.TermSent == 0 {
		return o
	}
	o.TermSent = true
	for _, l := range lines(r.Term) {
		switch l.event {
		case "slow-sent":
			o.InFlight = l.at <= r.TermSent
		case "slow-done":
			o.InFlightStatus, _ = strconv.Atoi(l.arg(0))
			if l.arg(1) != "0" {
				o.InFlightStatus, o.InFlightErr = 0, "curl exit status "+l.arg(1)+" (connection reset or closed)"
			}
			if l.at < r.TermSent {
				o.InFlight, o.InFlightErr = false, "the slow request finished before SIGTERM: use a slower --slow-path"
			}
		case "ready-answer":
			if l.at <= r.TermSent {
				continue
			}
			a := l.arg(0)
			if cfg.ReadyPath == "" {
				continue
			}
			if n := len(o.ReadyAfterTerm); n == 0 || o.ReadyAfterTerm[n-1] != a {
				o.ReadyAfterTerm = append(o.ReadyAfterTerm, a)
			}
		}
	}
	o.ShutdownSeconds = r.Stopped - r.TermSent
	if r.StopErr == nil && o.ShutdownSeconds <= r.Grace.Seconds() {
		o.Exited = true
		o.Exit = Exit{Code: -1, Unknown: true}
	}
	return o
}

type line struct {
	at    float64
	event string
	args  []string
}

func (l line) arg(i int) string {
	if i < len(l.args) {
		return l.args[i]
	}
	return ""
}

func lines(out string) []line {
	var ls []line
	s := bufio.NewScanner(strings.NewReader(out))
	s.Buffer(make([]byte, 64*1024), 1<<20)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 2 {
			continue
		}
		at, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		ls = append(ls, line{at: at, event: f[1], args: f[2:]})
	}
	return ls
}

// Uptime reads the host's uptime in seconds, the clock ClientScript stamps
// its events with.
func Uptime() (float64, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, fmt.Errorf("read /proc/uptime: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("read /proc/uptime: empty")
	}
	return strconv.ParseFloat(f[0], 64)
}
