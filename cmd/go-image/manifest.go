package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"dagger/go-image/internal/manifest"
)

func runManifest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("manifest", stderr)
	o := manifest.DefaultOptions()
	fs.StringVar(&o.Image, "image", "", "image reference pinned by digest (required), e.g. registry.example/app@sha256:…")
	fs.StringVar(&o.Name, "name", "", "Deployment and Service name (default: the image repository's last path element)")
	fs.StringVar(&o.Namespace, "namespace", "", "namespace (default: none, kubectl's current)")
	replicas := fs.Int("replicas", int(o.Replicas), "replicas")
	businessPort := fs.Int("business-port", int(o.BusinessPort), "container port named http")
	probePort := fs.Int("probe-port", int(o.ProbePort), "container port named probe, for liveness and readiness")
	servicePort := fs.Int("service-port", int(o.ServicePort), "Service port, forwarded to the http container port")
	fs.StringVar(&o.HealthPath, "health-path", o.HealthPath, "livenessProbe path on the probe port")
	fs.StringVar(&o.ReadyPath, "ready-path", o.ReadyPath, "readinessProbe path on the probe port; empty omits the readiness probe")
	delay := fs.Int("initial-delay", int(o.InitialDelaySeconds), fmt.Sprintf("probes' initialDelaySeconds (%d-%d unless --any-initial-delay)", manifest.MinInitialDelaySeconds, manifest.MaxInitialDelaySeconds))
	fs.BoolVar(&o.AnyInitialDelay, "any-initial-delay", false, "accept an --initial-delay outside the recommended range")
	threshold := fs.Int("failure-threshold", int(o.FailureThreshold), "probes' failureThreshold")
	grace := fs.Duration("grace", time.Duration(o.GraceSeconds)*time.Second, "terminationGracePeriodSeconds, whole seconds (keep it equal to go-image smoke --grace)")
	fs.StringVar(&o.CPURequest, "cpu-request", o.CPURequest, "CPU request; empty omits")
	fs.StringVar(&o.MemoryRequest, "memory-request", o.MemoryRequest, "memory request; empty omits")
	fs.StringVar(&o.CPULimit, "cpu-limit", "", "CPU limit; empty omits")
	fs.StringVar(&o.MemoryLimit, "memory-limit", "", "memory limit; empty omits")
	var env listFlag
	fs.Var(&env, "env", "container environment variable NAME=VALUE (repeatable)")
	fs.BoolVar(&o.RequireGates, "require-gates", false, "label the pods "+manifest.GatedLabel+"=true, which the sample admission policy deploy/kyverno/require-go-image-gates.yaml selects: admitted only with a signed gate report showing no failed check")
	output := fs.String("output", "", "write the YAML to this file instead of stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Image == "" {
		return usageError{fmt.Errorf("--image is required: the pushed image pinned by digest, e.g. --image registry.example/app@sha256:…")}
	}
	if *grace%time.Second != 0 {
		return usageError{fmt.Errorf("--grace %s: terminationGracePeriodSeconds takes whole seconds", *grace)}
	}
	var n manifest.Int32s
	o.Replicas, o.BusinessPort, o.ProbePort, o.ServicePort = n.Int32("--replicas", *replicas), n.Int32("--business-port", *businessPort), n.Int32("--probe-port", *probePort), n.Int32("--service-port", *servicePort)
	o.InitialDelaySeconds, o.FailureThreshold, o.GraceSeconds = n.Int32("--initial-delay", *delay), n.Int32("--failure-threshold", *threshold), int64(*grace/time.Second)
	if n.Err != nil {
		return usageError{n.Err}
	}
	o.Env = env
	y, err := manifest.Render(o)
	if err != nil {
		return usageError{err}
	}
	if *output == "" {
		_, err = stdout.Write(y)
		return err
	}
	if err := os.WriteFile(*output, y, 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	fmt.Fprintf(stderr, "go-image: wrote %s\n", *output)
	return nil
}
