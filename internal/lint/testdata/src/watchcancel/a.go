package watchcancel

import (
	"context"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
)

func watches(ctx context.Context, c kubernetes.Interface, d dynamic.Interface) {
	_, _ = c.CoreV1().Pods("default").Watch(context.Background(), corev1.ListOptions{})                          // want `Watch with context.Background\(\) can never be cancelled.*pass a cancellable context`
	_, _ = d.Resource(dynamic.GroupVersionResource{}).Namespace("x").Watch(context.TODO(), corev1.ListOptions{}) // want `Watch with context.TODO\(\) can never be cancelled`
	_, _ = c.CoreV1().Pods("default").Watch(ctx, corev1.ListOptions{})
	_, _ = c.CoreV1().Pods("default").List(context.Background(), corev1.ListOptions{})
}

func informersStarted(ctx context.Context, c kubernetes.Interface, stop <-chan struct{}) {
	f := informers.NewSharedInformerFactory(c, time.Minute)
	f.Start(nil)                         // want `Start\(nil\): the stop channel is nil`
	f.Start(make(chan struct{}))         // want `the stop channel is made in place and never closed`
	f.Start(context.Background().Done()) // want `is context.Background\(\).Done\(\), which never closes`
	never := make(chan struct{})
	go f.Pods().Run(never) // want `Run\(never\): the stop channel is never closed in this package`
	closed := make(chan struct{})
	defer close(closed)
	f.Start(closed)
	f.Start(ctx.Done())
	f.Start(stop)
	f.WaitForCacheSync(ctx.Done())
}
