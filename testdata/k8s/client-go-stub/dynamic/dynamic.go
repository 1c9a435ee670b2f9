// Package dynamic is a stub of k8s.io/client-go/dynamic.
package dynamic

import (
	"context"

	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

type GroupVersionResource struct{ Group, Version, Resource string }

type ResourceInterface interface {
	Watch(ctx context.Context, opts corev1.ListOptions) (corev1.WatchInterface, error)
}

type NamespaceableResourceInterface interface {
	ResourceInterface
	Namespace(string) ResourceInterface
}

type Interface interface {
	Resource(GroupVersionResource) NamespaceableResourceInterface
}

type DynamicClient struct{}

func (*DynamicClient) Resource(GroupVersionResource) NamespaceableResourceInterface { return nil }

func NewForConfig(*rest.Config) (*DynamicClient, error) { return &DynamicClient{}, nil }
func NewForConfigOrDie(*rest.Config) *DynamicClient     { return &DynamicClient{} }
