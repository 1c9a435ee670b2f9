package manifest

import (
	"bytes"
	"math"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// decode splits the multi-document YAML and decodes it strictly: a field the
// API types do not know fails.
func decode(t *testing.T, y []byte) (*appsv1.Deployment, *corev1.Service) {
	t.Helper()
	docs := bytes.Split(y, []byte("\n---\n"))
	if len(docs) != 2 {
		t.Fatalf("want 2 YAML documents, got %d:\n%s", len(docs), y)
	}
	var dep appsv1.Deployment
	var svc corev1.Service
	if err := yaml.UnmarshalStrict(docs[0], &dep); err != nil {
		t.Fatalf("decode Deployment: %v\n%s", err, docs[0])
	}
	if err := yaml.UnmarshalStrict(docs[1], &svc); err != nil {
		t.Fatalf("decode Service: %v\n%s", err, docs[1])
	}
	return &dep, &svc
}

func TestRenderDefaults(t *testing.T) {
	o := DefaultOptions()
	o.Image = "registry.example/team/orders@" + digest
	o.Namespace = "shop"
	y, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	dep, svc := decode(t, y)
	if dep.Kind != "Deployment" || dep.APIVersion != "apps/v1" || svc.Kind != "Service" || svc.APIVersion != "v1" {
		t.Fatalf("kinds: %s %s / %s %s", dep.APIVersion, dep.Kind, svc.APIVersion, svc.Kind)
	}
	if dep.Name != "orders" || dep.Namespace != "shop" || svc.Name != "orders" || svc.Namespace != "shop" {
		t.Errorf("names: deployment %s/%s, service %s/%s, want shop/orders", dep.Namespace, dep.Name, svc.Namespace, svc.Name)
	}
	if *dep.Spec.Replicas != DefaultReplicas {
		t.Errorf("replicas = %d", *dep.Spec.Replicas)
	}
	for k, v := range dep.Spec.Selector.MatchLabels {
		if dep.Spec.Template.Labels[k] != v || svc.Spec.Selector[k] != v {
			t.Errorf("selector %s=%s does not match the pod template and the service", k, v)
		}
	}
	pod := dep.Spec.Template.Spec
	if *pod.TerminationGracePeriodSeconds != 30 {
		t.Errorf("terminationGracePeriodSeconds = %d, want the smoke gate's 30", *pod.TerminationGracePeriodSeconds)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("containers = %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != o.Image {
		t.Errorf("image = %s, want %s", c.Image, o.Image)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 8080 || ports["probe"] != 8081 || len(ports) != 2 {
		t.Errorf("ports = %v, want http 8080 and probe 8081", ports)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Fatalf("%s probe missing", p.name)
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "probe" {
			t.Errorf("%s probe = %s on %s, want %s on the probe port", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
		if p.probe.InitialDelaySeconds != 10 || p.probe.FailureThreshold != 3 {
			t.Errorf("%s probe delay %d threshold %d, want 10 and 3", p.name, p.probe.InitialDelaySeconds, p.probe.FailureThreshold)
		}
	}
	sc := c.SecurityContext
	if sc == nil || !*sc.RunAsNonRoot || *sc.RunAsUser != 65532 || *sc.RunAsGroup != 65532 || !*sc.ReadOnlyRootFilesystem ||
		*sc.AllowPrivilegeEscalation || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" ||
		sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container securityContext is not restricted: %+v", sc)
	}
	if got := c.Resources.Requests.Cpu().String(); got != DefaultCPURequest {
		t.Errorf("cpu request = %s", got)
	}
	if got := c.Resources.Requests.Memory().String(); got != DefaultMemoryRequest {
		t.Errorf("memory request = %s", got)
	}
	if len(c.Resources.Limits) != 0 {
		t.Errorf("limits set without being asked: %v", c.Resources.Limits)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].TargetPort.String() != "http" || svc.Spec.Ports[0].Port != 80 {
		t.Errorf("service ports = %+v, want 80 -> http", svc.Spec.Ports)
	}
}

func TestRenderOptions(t *testing.T) {
	o := DefaultOptions()
	o.Image = "app@" + digest
	o.Name, o.Replicas, o.ReadyPath = "api", 5, ""
	o.InitialDelaySeconds, o.GraceSeconds = 15, 45
	o.CPULimit, o.MemoryLimit = "500m", "256Mi"
	o.Env = []string{"LOG_LEVEL=debug"}
	y, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	dep, _ := decode(t, y)
	c := dep.Spec.Template.Spec.Containers[0]
	if dep.Name != "api" || *dep.Spec.Replicas != 5 || *dep.Spec.Template.Spec.TerminationGracePeriodSeconds != 45 {
		t.Errorf("name %s replicas %d grace %d", dep.Name, *dep.Spec.Replicas, *dep.Spec.Template.Spec.TerminationGracePeriodSeconds)
	}
	if c.ReadinessProbe != nil {
		t.Errorf("readiness probe rendered although disabled")
	}
	if c.LivenessProbe.InitialDelaySeconds != 15 {
		t.Errorf("initial delay = %d", c.LivenessProbe.InitialDelaySeconds)
	}
	if c.Resources.Limits.Memory().String() != "256Mi" || c.Resources.Limits.Cpu().String() != "500m" {
		t.Errorf("limits = %v", c.Resources.Limits)
	}
	if len(c.Env) != 1 || c.Env[0].Name != "LOG_LEVEL" || c.Env[0].Value != "debug" {
		t.Errorf("env = %v", c.Env)
	}
	if c.Image != "index.docker.io/library/app@"+digest {
		t.Errorf("image not fully qualified: %s", c.Image)
	}
}

func TestRenderRejects(t *testing.T) {
	mod := func(f func(*Options)) Options { o := DefaultOptions(); o.Image = "app@" + digest; f(&o); return o }
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"tag, not digest", mod(func(o *Options) { o.Image = "app:1.0" }), "digest"},
		{"bad name", mod(func(o *Options) { o.Name = "My_App" }), "DNS label"},
		{"same ports", mod(func(o *Options) { o.ProbePort = 8080 }), "probe port"},
		{"delay below range", mod(func(o *Options) { o.InitialDelaySeconds = 5 }), "10-15"},
		{"delay above range", mod(func(o *Options) { o.InitialDelaySeconds = 30 }), "10-15"},
		{"bad quantity", mod(func(o *Options) { o.MemoryRequest = "lots" }), "quantity"},
		{"bad env", mod(func(o *Options) { o.Env = []string{"NOVALUE"} }), "NAME=VALUE"},
		{"zero grace", mod(func(o *Options) { o.GraceSeconds = 0 }), "grace"},
	}
	for _, tt := range tests {
		if _, err := Render(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
	// The range is a default, not a law: it can be overridden.
	o := mod(func(o *Options) { o.InitialDelaySeconds, o.AnyInitialDelay = 30, true })
	if _, err := Render(o); err != nil {
		t.Errorf("AnyInitialDelay: %v", err)
	}
}

// TestInt32: a value that does not fit the Kubernetes field is an error
// naming the argument, never a wrapped number.
func TestInt32(t *testing.T) {
	for _, tc := range []struct {
		v    int
		want int32
		ok   bool
	}{
		{2, 2, true},
		{0, 0, true},
		{-1, -1, true}, // Render refuses it, naming the field
		{math.MaxInt32, math.MaxInt32, true},
		{1<<32 + 2, 0, false},    // wrapped to 2 replicas before
		{1<<32 + 8081, 0, false}, // wrapped to port 8081 before
		{math.MinInt32 - 1, 0, false},
	} {
		got, err := Int32("--replicas", tc.v)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Int32(%d) = %d, %v; want %d, ok %v", tc.v, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--replicas") {
			t.Errorf("Int32(%d): %v does not name the argument", tc.v, err)
		}
	}
	var n Int32s
	if n.Int32("--replicas", 3) != 3 || n.Int32("--probe-port", 1<<32+8081) != 0 || n.Int32("--service-port", 1<<33) != 0 || n.Int32("--failure-threshold", 3) != 3 {
		t.Error("Int32s converted a value wrongly")
	}
	if n.Err == nil || !strings.Contains(n.Err.Error(), "--probe-port") {
		t.Errorf("Int32s.Err = %v, want the first argument out of range, --probe-port", n.Err)
	}
}
