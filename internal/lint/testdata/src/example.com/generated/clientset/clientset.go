// Package clientset stands in for a CRD's generated clientset, which lives
// outside k8s.io/client-go but is built and watched the same way.
package clientset

import (
	"context"

	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

type WidgetInterface interface {
	Watch(ctx context.Context, opts corev1.ListOptions) (corev1.WatchInterface, error)
}

type Clientset struct{}

func (*Clientset) Widgets(ns string) WidgetInterface { return nil }

func NewForConfig(*rest.Config) (*Clientset, error) { return &Clientset{}, nil }
