package main

import (
	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/manifest"
)

// Manifest renders a Deployment and Service for the image pinned by digest
// (the address Release printed), with the probes, grace period and
// restricted security context the gates checked. Same as `go-image manifest`.
func (m *GoImage) Manifest(
	// Image reference pinned by digest, e.g. registry.example/app@sha256:….
	image string,
	// Deployment and Service name (default: the image repository's last path element).
	// +optional
	name string,
	// Namespace (default: none, kubectl's current).
	// +optional
	namespace string,
	// Replicas of the Deployment.
	// +optional
	// +default=2
	replicas int,
	// Container port named http.
	// +optional
	// +default=8080
	businessPort int,
	// Container port named probe, for liveness and readiness.
	// +optional
	// +default=8081
	probePort int,
	// Service port, forwarded to the http container port.
	// +optional
	// +default=80
	servicePort int,
	// livenessProbe path on the probe port.
	// +optional
	// +default="/healthz"
	healthPath string,
	// readinessProbe path on the probe port.
	// +optional
	// +default="/readyz"
	readyPath string,
	// Omit the readiness probe.
	// +optional
	noReadiness bool,
	// Probes' initialDelaySeconds, 10-15 unless anyInitialDelay.
	// +optional
	// +default=10
	initialDelay int,
	// Accept an initialDelay outside 10-15.
	// +optional
	anyInitialDelay bool,
	// Probes' failureThreshold.
	// +optional
	// +default=3
	failureThreshold int,
	// terminationGracePeriodSeconds; keep it equal to the smoke gate's grace.
	// +optional
	// +default=30
	graceSeconds int,
	// Container CPU request.
	// +optional
	// +default="100m"
	cpuRequest string,
	// Container memory request.
	// +optional
	// +default="64Mi"
	memoryRequest string,
	// Container CPU limit (default: none).
	// +optional
	cpuLimit string,
	// Container memory limit (default: none).
	// +optional
	memoryLimit string,
	// Container environment variables, NAME=VALUE.
	// +optional
	env []string,
	// Label the pods so the sample admission policy (deploy/kyverno) admits them only with a passing gate-report attestation.
	// +optional
	requireGates bool,
) (*dagger.File, error) {
	var n manifest.Int32s
	o := manifest.Options{
		Image: image, Name: name, Namespace: namespace, Replicas: n.Int32("replicas", replicas),
		BusinessPort: n.Int32("businessPort", businessPort), ProbePort: n.Int32("probePort", probePort), ServicePort: n.Int32("servicePort", servicePort),
		HealthPath: healthPath, ReadyPath: readyPath, InitialDelaySeconds: n.Int32("initialDelay", initialDelay), AnyInitialDelay: anyInitialDelay,
		FailureThreshold: n.Int32("failureThreshold", failureThreshold), GraceSeconds: int64(graceSeconds),
		CPURequest: cpuRequest, MemoryRequest: memoryRequest, CPULimit: cpuLimit, MemoryLimit: memoryLimit, Env: env,
		RequireGates: requireGates,
	}
	if n.Err != nil {
		return nil, n.Err
	}
	if noReadiness {
		o.ReadyPath = ""
	}
	y, err := manifest.Render(o)
	if err != nil {
		return nil, err
	}
	return dag.Directory().WithNewFile("manifest.yaml", string(y)).File("manifest.yaml"), nil
}
