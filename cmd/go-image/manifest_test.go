package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestManifestCLI(t *testing.T) {
	out := filepath.Join(t.TempDir(), "k8s.yaml")
	code, _, stderr := goImage(t, "manifest", "--image", "registry.example/shop/orders@"+testDigest,
		"--namespace", "shop", "--replicas", "3", "--grace", "45s", "--initial-delay", "12", "--env", "LOG=debug", "--output", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ := strings.Cut(string(b), "\n---\n")
	var dep appsv1.Deployment
	if err := yaml.UnmarshalStrict([]byte(doc), &dep); err != nil {
		t.Fatal(err)
	}
	pod := dep.Spec.Template.Spec
	if dep.Name != "orders" || dep.Namespace != "shop" || *dep.Spec.Replicas != 3 || *pod.TerminationGracePeriodSeconds != 45 ||
		pod.Containers[0].LivenessProbe.InitialDelaySeconds != 12 || pod.Containers[0].Env[0].Name != "LOG" {
		t.Errorf("flags not applied:\n%s", b)
	}
	if !strings.Contains(string(b), "kind: Service") {
		t.Errorf("no Service in:\n%s", b)
	}
}

func TestManifestCLIUsage(t *testing.T) {
	img := "app@" + testDigest
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--image is required"},
		{[]string{"--image", "app:latest"}, "pinned by digest"},
		{[]string{"--image", img, "--grace", "1500ms"}, "whole seconds"},
		{[]string{"--image", img, "--initial-delay", "3"}, "10-15"},
		{[]string{"--image", img, "--probe-port", "8080"}, "equals the business port"},
	}
	for _, tt := range tests {
		code, _, stderr := goImage(t, append([]string{"manifest"}, tt.args...)...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("manifest %v: exit %d, want 2 with %q:\n%s", tt.args, code, tt.want, stderr)
		}
	}
}
