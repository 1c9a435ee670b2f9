package watchcancel

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"example.com/generated/clientset"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
)

func watches(ctx context.Context, c kubernetes.Interface, d dynamic.Interface, g *clientset.Clientset) {
	_, _ = c.CoreV1().Pods("default").Watch(context.Background(), corev1.ListOptions{})                          // want `Watch with context.Background\(\) can never be cancelled.*pass a cancellable context`
	_, _ = d.Resource(dynamic.GroupVersionResource{}).Namespace("x").Watch(context.TODO(), corev1.ListOptions{}) // want `Watch with context.TODO\(\) can never be cancelled`
	_, _ = g.Widgets("x").Watch(context.TODO(), corev1.ListOptions{})                                            // want `Watch with context.TODO\(\) can never be cancelled`
	_, _ = c.CoreV1().Pods("default").Watch(ctx, corev1.ListOptions{})
	_, _ = c.CoreV1().Pods("default").List(context.Background(), corev1.ListOptions{})
}

// A ListWatch's WatchFunc hands the watch to a reflector, which stops it;
// it has no context to pass. Same for a helper that builds one.
func listWatch(c kubernetes.Interface, g *clientset.Clientset) *cache.ListWatch {
	return &cache.ListWatch{
		WatchFunc: func(opts corev1.ListOptions) (corev1.WatchInterface, error) {
			return c.CoreV1().Pods("").Watch(context.TODO(), opts)
		},
	}
}

func watchWidgets(g *clientset.Clientset) func(corev1.ListOptions) (corev1.WatchInterface, error) {
	return func(opts corev1.ListOptions) (corev1.WatchInterface, error) {
		return g.Widgets("").Watch(context.Background(), opts)
	}
}

// A helper that has a context and drops it is not a WatchFunc.
func watchFor(ctx context.Context, c kubernetes.Interface) (corev1.WatchInterface, error) {
	return c.CoreV1().Pods("").Watch(context.Background(), corev1.ListOptions{}) // want `Watch with context.Background\(\) can never be cancelled`
}

func informersStarted(ctx context.Context, c kubernetes.Interface, stop <-chan struct{}) {
	f := informers.NewSharedInformerFactory(c, time.Minute)
	f.Start(nil)                         // want `f.Start\(… nil …\): the stop channel is nil`
	f.Start(make(chan struct{}))         // want `the stop channel is made in place and never closed`
	f.Start(context.Background().Done()) // want `is context.Background\(\).Done\(\), which never closes`
	f.Start(wait.NeverStop)              // want `the stop channel is wait.NeverStop`
	never := make(chan struct{})
	go f.Pods().Run(never) // want `never is never closed`
	closed := make(chan struct{})
	defer close(closed)
	f.Start(closed)
	f.Start(ctx.Done())
	f.Start(stop)
	f.WaitForCacheSync(ctx.Done())
	sig, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	f.Start(sig.Done())
}

// controller passes its stop channel on to an informer: its callers decide.
type controller struct{ informer cache.SharedIndexInformer }

func (c *controller) Run(workers int, stopCh chan struct{}) {
	go c.informer.Run(stopCh)
	cache.WaitForCacheSync(stopCh, c.informer.HasSynced)
	<-stopCh
}

// The deferred close never runs: the function ends in log.Fatal.
func serveForever(cs []*controller) {
	for _, c := range cs {
		stop := make(chan struct{})
		defer close(stop)
		go c.Run(1, stop) // want `c.Run\(… stop …\): stop is closed only by a deferred close in serveForever, which never returns \(it ends in log.Fatal\)`
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := informers.NewSharedInformerFactory(nil, 0)
	f.Start(ctx.Done()) // want `ctx is cancelled only by a deferred cancel\(\) in serveForever, which never returns`
	log.Fatal(serve())
}

func serve() error { return nil }

// The same, in a function that returns: the defers run.
func runUntilDone(cs []*controller, done <-chan struct{}) {
	for _, c := range cs {
		stop := make(chan struct{})
		defer close(stop)
		go c.Run(1, stop)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	informers.NewSharedInformerFactory(nil, 0).Start(ctx.Done())
	<-done
}

// cancel handed to code that may call it: not a finding.
func leaderElection(c *controller, onLost func(context.CancelFunc)) {
	ctx, cancel := context.WithCancel(context.Background())
	onLost(cancel)
	informers.NewSharedInformerFactory(nil, 0).Start(ctx.Done())
	select {}
}
