package lint

import "fmt"

// The probe-path family: a first segment that names a probe, or a last one
// in a path without parameters.
func Example_probePaths() {
	for _, p := range []string{"/healthz", "/health/ready", "/livez/ping", "/-/healthy", "/api/v1/health", "/api/clusters/{id}/health", "/healthcheck", "/orders", "/last-poll", "/readiness-report"} {
		fmt.Printf("%-27s %v\n", p, isProbePath(p))
	}
	// Output:
	// /healthz                    true
	// /health/ready               true
	// /livez/ping                 true
	// /-/healthy                  true
	// /api/v1/health              true
	// /api/clusters/{id}/health   false
	// /healthcheck                true
	// /orders                     false
	// /last-poll                  false
	// /readiness-report           false
}
