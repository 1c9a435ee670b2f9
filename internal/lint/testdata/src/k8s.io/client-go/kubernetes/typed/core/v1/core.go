// Package v1 is a stub of k8s.io/client-go/kubernetes/typed/core/v1.
package v1

import "context"

type ListOptions struct{ LabelSelector string }

type Event struct{ Type string }

// WatchInterface stands in for k8s.io/apimachinery/pkg/watch.Interface.
type WatchInterface interface {
	Stop()
	ResultChan() <-chan Event
}

type PodList struct{}

type PodInterface interface {
	List(ctx context.Context, opts ListOptions) (*PodList, error)
	Watch(ctx context.Context, opts ListOptions) (WatchInterface, error)
}

type CoreV1Interface interface {
	Pods(namespace string) PodInterface
}
