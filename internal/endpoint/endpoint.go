// Package endpoint decides which address reaches a Dagger service: the
// service's host:port (Service.endpoint) pinned to the IP its name
// resolves to once the engine's DNS publishes it.
//
// A started service's name is not a stable thing to dial again and again.
// The engine publishes it to its dnsmasq a moment after the start, reloads
// that host list whenever a container comes or goes, and on a loaded
// machine a lookup can go unanswered; a search-list lookup then reports
// the "no such host" of another candidate name. Seen in CI: a smoke run's
// health probes answered, then the in-flight request before SIGTERM failed
// its lookup, and the gate blamed the service. The kubelet probes a pod's
// IP, not a name; the smoke gate and the registry tunnel do the same, and
// depend on the engine's DNS once per service.
package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Resolver looks a host name up; *net.Resolver (net.DefaultResolver) is one.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// settle is how long a service's name may stay unknown after its start,
// and every is how often it is looked up again meanwhile. Generous: on a
// loaded 2-core CI machine the engine's DNS once gave no answer at all for
// more than 15 s, and a gate that fails a good service for it is worse than
// one that waits.
var (
	settle = 60 * time.Second
	every  = 250 * time.Millisecond
)

// Pin returns hostport with its host replaced by the address it resolves
// to. A host that is already an IP is returned as it is. A name not yet
// known, or a lookup that failed for a passing reason (a timeout, a
// server failure), is looked up again for a while; any other failure, or
// a name still unknown after that, is an error naming the service.
func Pin(ctx context.Context, r Resolver, hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("service endpoint %q: %w (want host:port)", hostport, err)
	}
	if net.ParseIP(host) != nil {
		return hostport, nil
	}
	deadline := time.Now().Add(settle)
	for {
		addrs, err := r.LookupHost(ctx, host)
		if err == nil && len(addrs) > 0 {
			return net.JoinHostPort(addrs[0], port), nil
		}
		if err == nil {
			err = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		var dnsErr *net.DNSError
		passing := errors.As(err, &dnsErr) && (dnsErr.IsNotFound || dnsErr.IsTimeout || dnsErr.IsTemporary)
		if !passing {
			return "", fmt.Errorf("resolve service %s: %w", host, err)
		}
		if !time.Now().Before(deadline) {
			return "", fmt.Errorf("resolve service %s: still unknown %s after it started (%w): the engine's DNS did not publish it; "+
				"check the engine's log for dnsmasq and CNI errors, or restart the engine", host, settle, err)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("resolve service %s: %w (last lookup: %v)", host, ctx.Err(), err)
		case <-time.After(every):
		}
	}
}
