package push

import (
	"strings"
	"testing"
)

func TestTunnelRegistry(t *testing.T) {
	tests := []struct {
		name        string
		addresses   []string
		haveService bool
		want        string // the registry to tunnel to
		errHas      string
	}{
		{"a remote registry needs no tunnel", []string{"ghcr.io/acme/api:1"}, false, "", ""},
		{"loopback with a service", []string{"localhost:5000/acme/api:1", "ghcr.io/acme/api:1"}, true, "localhost:5000", ""},
		{"127.0.0.1 is loopback too", []string{"127.0.0.1:5000/acme/api:1"}, true, "127.0.0.1:5000", ""},
		{"IPv6 loopback", []string{"[::1]:5000/acme/api:1"}, true, "[::1]:5000", ""},
		{"one loopback registry, twice", []string{"localhost:5000/a:1", "localhost:5000/b:1"}, true, "localhost:5000", ""},
		{"loopback without a service", []string{"localhost:5000/acme/api:1"}, false, "", "--registry tcp://localhost:5000"},
		{"a service without a loopback address", []string{"ghcr.io/acme/api:1"}, true, "", "no address names a loopback registry"},
		{"two loopback registries", []string{"localhost:5000/a:1", "localhost:5001/a:1"}, true, "", "two loopback registries"},
		{"loopback without a port", []string{"localhost/acme/api:1"}, true, "", "give its port"},
		{"IPv6 loopback without a port", []string{"[::1]/acme/api:1"}, true, "", "give its port"},
		{"a bad address", []string{"acme/api"}, true, "", "REGISTRY/REPO:TAG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TunnelRegistry(tt.addresses, tt.haveService)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want %q", err, tt.errHas)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("TunnelRegistry = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
