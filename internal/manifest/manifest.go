// Package manifest renders the Kubernetes Deployment and Service that run an
// image the way go-image's gates checked it: probes on the probe port, the
// smoke gate's grace period, and a restricted security context matching the
// image's 65532 user. Objects are built from k8s.io/api types, so the YAML is
// a valid Deployment and Service by construction.
package manifest

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/smoke"
)

// Defaults users see in --help and the README.
const (
	DefaultReplicas            = 2
	DefaultInitialDelaySeconds = 10
	DefaultFailureThreshold    = 3
	DefaultServicePort         = 80
	DefaultCPURequest          = "100m"
	DefaultMemoryRequest       = "64Mi"
	// The founding note's range for initialDelaySeconds: long enough for a
	// Go service to start, short enough that a broken rollout shows quickly.
	MinInitialDelaySeconds = 10
	MaxInitialDelaySeconds = 15
)

// Options describe the workload.
type Options struct {
	// Image is the image reference pinned by digest (repo@sha256:…).
	Image string
	// Name of the Deployment and Service; default: the image repository's
	// last path element.
	Name      string
	Namespace string
	Replicas  int32
	// Ports and probe paths, as the smoke gate checked them.
	BusinessPort int32
	ProbePort    int32
	ServicePort  int32
	HealthPath   string
	// ReadyPath "" omits the readiness probe.
	ReadyPath           string
	InitialDelaySeconds int32
	// AnyInitialDelay accepts an initial delay outside 10–15 s.
	AnyInitialDelay  bool
	FailureThreshold int32
	// GraceSeconds is terminationGracePeriodSeconds; the smoke gate's grace.
	GraceSeconds int64
	// Requests and optional limits (Kubernetes quantities; "" omits).
	CPURequest, MemoryRequest, CPULimit, MemoryLimit string
	// Env are extra container variables, NAME=VALUE.
	Env []string
	// RequireGates labels the pods GatedLabel=true: the label the sample
	// admission policy (deploy/kyverno) selects, so the cluster admits them
	// only with a signed go-image gate report that shows no failed check.
	RequireGates bool
}

// GatedLabel is the pod label deploy/kyverno/require-go-image-gates.yaml
// matches on.
const GatedLabel = "go-image.dev/gated"

// DefaultOptions match the smoke gate's defaults and the example service.
func DefaultOptions() Options {
	return Options{
		Replicas:            DefaultReplicas,
		BusinessPort:        smoke.DefaultBusinessPort,
		ProbePort:           smoke.DefaultProbePort,
		ServicePort:         DefaultServicePort,
		HealthPath:          smoke.DefaultHealthPath,
		ReadyPath:           smoke.DefaultReadyPath,
		InitialDelaySeconds: DefaultInitialDelaySeconds,
		FailureThreshold:    DefaultFailureThreshold,
		GraceSeconds:        int64(smoke.DefaultGrace.Seconds()),
		CPURequest:          DefaultCPURequest,
		MemoryRequest:       DefaultMemoryRequest,
	}
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// normalize fills the name and rejects what would not apply cleanly.
func (o Options) normalize() (Options, error) {
	d, err := name.NewDigest(o.Image)
	if err != nil {
		return o, fmt.Errorf("image %q: want a reference pinned by digest, e.g. registry.example/app@sha256:…, so the cluster runs exactly what the gates checked: %w", o.Image, err)
	}
	// Fully qualified: the cluster runtime and the gates then name the same image.
	o.Image = d.Context().Name() + "@" + d.DigestStr()
	if o.Name == "" {
		repo := d.Context().RepositoryStr()
		o.Name = strings.ToLower(repo[strings.LastIndex(repo, "/")+1:])
	}
	if len(o.Name) > 63 || !dnsLabel.MatchString(o.Name) {
		return o, fmt.Errorf("name %q: must be a DNS label (lower-case letters, digits, '-', at most 63): set --name", o.Name)
	}
	if o.Namespace != "" && (len(o.Namespace) > 63 || !dnsLabel.MatchString(o.Namespace)) {
		return o, fmt.Errorf("namespace %q: must be a DNS label", o.Namespace)
	}
	if o.Replicas < 0 {
		return o, fmt.Errorf("replicas %d: must not be negative", o.Replicas)
	}
	for _, p := range []struct {
		what string
		v    int32
	}{{"business port", o.BusinessPort}, {"probe port", o.ProbePort}, {"service port", o.ServicePort}} {
		if p.v < 1 || p.v > 65535 {
			return o, fmt.Errorf("%s %d: want 1-65535", p.what, p.v)
		}
	}
	if o.ProbePort == o.BusinessPort {
		return o, fmt.Errorf("probe port %d equals the business port: serve probes on their own port so a saturated business server cannot fail liveness", o.ProbePort)
	}
	if !strings.HasPrefix(o.HealthPath, "/") || (o.ReadyPath != "" && !strings.HasPrefix(o.ReadyPath, "/")) {
		return o, fmt.Errorf("probe paths %q, %q: must start with /", o.HealthPath, o.ReadyPath)
	}
	if !o.AnyInitialDelay && (o.InitialDelaySeconds < MinInitialDelaySeconds || o.InitialDelaySeconds > MaxInitialDelaySeconds) {
		return o, fmt.Errorf("initial delay %ds: keep it within %d-%d s, or allow any value explicitly", o.InitialDelaySeconds, MinInitialDelaySeconds, MaxInitialDelaySeconds)
	}
	if o.InitialDelaySeconds < 0 || o.FailureThreshold < 1 {
		return o, fmt.Errorf("initial delay %d / failure threshold %d: want ≥0 and ≥1", o.InitialDelaySeconds, o.FailureThreshold)
	}
	if o.GraceSeconds < 1 {
		return o, fmt.Errorf("grace %ds: want at least 1 s, the time the service gets to drain after SIGTERM", o.GraceSeconds)
	}
	return o, nil
}

// Objects returns the Deployment and the Service.
func Objects(o Options) (*appsv1.Deployment, *corev1.Service, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, nil, err
	}
	resources, err := o.resources()
	if err != nil {
		return nil, nil, err
	}
	var env []corev1.EnvVar
	for _, kv := range o.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("env %q: want NAME=VALUE", kv)
		}
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	labels := map[string]string{"app.kubernetes.io/name": o.Name}
	meta := metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: labels}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("probe")}},
			InitialDelaySeconds: o.InitialDelaySeconds,
			PeriodSeconds:       10,
			TimeoutSeconds:      1,
			FailureThreshold:    o.FailureThreshold,
		}
	}
	c := corev1.Container{
		Name:  o.Name,
		Image: o.Image,
		Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: o.BusinessPort, Protocol: corev1.ProtocolTCP},
			{Name: "probe", ContainerPort: o.ProbePort, Protocol: corev1.ProtocolTCP},
		},
		Env:             env,
		Resources:       resources,
		LivenessProbe:   probe(o.HealthPath),
		ImagePullPolicy: corev1.PullIfNotPresent,
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr(true),
			RunAsUser:                ptr(int64(recipe.UID)),
			RunAsGroup:               ptr(int64(recipe.GID)),
			ReadOnlyRootFilesystem:   ptr(true),
			AllowPrivilegeEscalation: ptr(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		// The root filesystem is read-only; /tmp is the one writable place.
		VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
	}
	if o.ReadyPath != "" {
		c.ReadinessProbe = probe(o.ReadyPath)
	}
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(o.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels(labels, o.RequireGates)},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr(o.GraceSeconds),
					AutomountServiceAccountToken:  ptr(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr(true),
						RunAsUser:      ptr(int64(recipe.UID)),
						RunAsGroup:     ptr(int64(recipe.GID)),
						FSGroup:        ptr(int64(recipe.GID)),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{c},
					Volumes:    []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: labels,
			// Only business traffic: probes are for the kubelet, not clients.
			Ports: []corev1.ServicePort{{Name: "http", Port: o.ServicePort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}
	return dep, svc, nil
}

func (o Options) resources() (corev1.ResourceRequirements, error) {
	var r corev1.ResourceRequirements
	set := func(list *corev1.ResourceList, res corev1.ResourceName, v string) error {
		if v == "" {
			return nil
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return fmt.Errorf("%s %q: not a Kubernetes quantity (e.g. 100m, 64Mi): %w", res, v, err)
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[res] = q
		return nil
	}
	for _, s := range []struct {
		list *corev1.ResourceList
		res  corev1.ResourceName
		v    string
	}{
		{&r.Requests, corev1.ResourceCPU, o.CPURequest}, {&r.Requests, corev1.ResourceMemory, o.MemoryRequest},
		{&r.Limits, corev1.ResourceCPU, o.CPULimit}, {&r.Limits, corev1.ResourceMemory, o.MemoryLimit},
	} {
		if err := set(s.list, s.res, s.v); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Render returns the Deployment and Service as one multi-document YAML.
func Render(o Options) ([]byte, error) {
	dep, svc, err := Objects(o)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for i, obj := range []any{dep, svc} {
		y, err := yaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("render manifest: %w", err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}

func ptr[T any](v T) *T { return &v }

// podLabels are the selector labels, plus GatedLabel when asked: only on
// the pods (which the admission policy checks), never in the selector,
// which cannot change once a Deployment exists.
func podLabels(selector map[string]string, gated bool) map[string]string {
	if !gated {
		return selector
	}
	out := map[string]string{GatedLabel: "true"}
	for k, v := range selector {
		out[k] = v
	}
	return out
}

// Int32 is v, the value of the argument named arg, as the int32 of a
// Kubernetes field. Both executors take plain ints, and a conversion
// wraps silently: --replicas 4294967298 rendered 2 replicas and
// --probe-port 4294975377 a probe on 8081.
func Int32(arg string, v int) (int32, error) {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, fmt.Errorf("%s %d: out of range (a Kubernetes field holds at most %d): give the value meant", arg, v, math.MaxInt32)
	}
	return int32(v), nil
}

// Int32s converts several arguments with Int32, keeping the first error.
type Int32s struct{ Err error }

// Int32 is Int32(arg, v), 0 once an argument was out of range.
func (c *Int32s) Int32(arg string, v int) int32 {
	n, err := Int32(arg, v)
	if c.Err == nil {
		c.Err = err
	}
	return n
}
