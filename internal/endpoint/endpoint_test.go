package endpoint

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// answers is a Resolver that gives its errors in order, then addrs.
type answers struct {
	errs    []error
	addrs   []string
	lookups int
}

func (a *answers) LookupHost(_ context.Context, host string) ([]string, error) {
	a.lookups++
	if i := a.lookups - 1; i < len(a.errs) {
		return nil, a.errs[i]
	}
	return a.addrs, nil
}

func TestPin(t *testing.T) {
	defer func(s, e time.Duration) { settle, every = s, e }(settle, every)
	settle, every = 200*time.Millisecond, time.Millisecond

	notFound := &net.DNSError{Err: "no such host", Name: "svc", IsNotFound: true}
	timeout := &net.DNSError{Err: "i/o timeout", Name: "svc", IsTimeout: true}
	servfail := &net.DNSError{Err: "server misbehaving", Name: "svc", IsTemporary: true}
	final := errors.New("resolver is broken")
	many := make([]error, 10000)
	for i := range many {
		many[i] = notFound
	}
	for _, tc := range []struct {
		name     string
		hostport string
		r        *answers
		want     string
		wantErr  string
		lookups  int // -1: any number above one
	}{
		{"an IP is kept", "10.89.0.7:8080", &answers{}, "10.89.0.7:8080", "", 0},
		{"a name is pinned", "mk229csg6neo8:8080", &answers{addrs: []string{"10.89.0.9"}}, "10.89.0.9:8080", "", 1},
		{"a name published late", "svc:8081", &answers{errs: []error{notFound, notFound}, addrs: []string{"10.89.0.9"}}, "10.89.0.9:8081", "", 3},
		{"timeouts and server failures pass", "svc:80", &answers{errs: []error{timeout, servfail}, addrs: []string{"10.89.0.9"}}, "10.89.0.9:80", "", 3},
		{"an empty answer is not an address", "svc:80", &answers{addrs: nil}, "", "still unknown", -1},
		{"a name never published", "svc:80", &answers{errs: many}, "", "did not publish it", -1},
		{"another failure is final", "svc:80", &answers{errs: []error{final}}, "", "resolver is broken", 1},
		{"no port", "svc", &answers{}, "", "want host:port", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Pin(t.Context(), tc.r, tc.hostport)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Pin(%q) error %v, want one containing %q", tc.hostport, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Pin(%q) = %q, want %q", tc.hostport, got, tc.want)
			}
			if tc.lookups >= 0 && tc.r.lookups != tc.lookups || tc.lookups < 0 && tc.r.lookups < 2 {
				t.Errorf("%d lookups, want %d", tc.r.lookups, tc.lookups)
			}
		})
	}
}

func TestPinCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := &answers{errs: []error{&net.DNSError{Err: "no such host", Name: "svc", IsNotFound: true}}}
	if _, err := Pin(ctx, r, "svc:80"); !errors.Is(err, context.Canceled) {
		t.Errorf("Pin with a cancelled context: %v, want context.Canceled", err)
	}
}
