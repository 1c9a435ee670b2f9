// Package stopfield parks informer stop channels in struct fields. A store
// only lets the channel escape when some code can close it through the
// field.
package stopfield

import (
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

type client struct {
	clientset kubernetes.Interface
	stopCh    chan struct{}
}

// The field is never read: nothing can close stopCh.
func newClient(c kubernetes.Interface) *client {
	stopCh := make(chan struct{})
	f := informers.NewSharedInformerFactory(c, 0)
	f.Start(stopCh)            // want `f.Start\(… stopCh …\): stopCh is never closed, so the informer runs until the process is killed`
	f.WaitForCacheSync(stopCh) // want `f.WaitForCacheSync\(… stopCh …\): stopCh is never closed, so this wait can never be abandoned`
	return &client{clientset: c, stopCh: stopCh}
}

type parked struct{ stop chan struct{} }

// Received from, never closed: still a finding.
func (p *parked) init(f informers.SharedInformerFactory) {
	stop := make(chan struct{})
	f.Start(stop) // want `stop is never closed`
	p.stop = stop
}

func (p *parked) wait() { <-p.stop }

type closer struct{ stop chan struct{} }

// Closed through the field: fine.
func (c *closer) start(f informers.SharedInformerFactory) {
	stop := make(chan struct{})
	f.Start(stop)
	c.stop = stop
}

func (c *closer) Close() { close(c.stop) }

type handed struct{ stop chan struct{} }

// Handed on through the field to code that may close it: fine.
func (h *handed) start(f informers.SharedInformerFactory, register func(chan struct{})) {
	stop := make(chan struct{})
	f.Start(stop)
	h.stop = stop
	register(h.stop)
}

// Exported is a library type: its importers may close Stop.
type Exported struct{ Stop chan struct{} }

func NewExported(f informers.SharedInformerFactory) *Exported {
	stop := make(chan struct{})
	f.Start(stop)
	return &Exported{Stop: stop}
}

// WaitForCacheSync(nil) returns false only when its stop channel closes,
// which a nil channel never does: the retry loop around it is dead code.
func retry(synced func() bool) bool {
	for i := 0; i < 3; i++ {
		if cache.WaitForCacheSync(nil, synced) { // want `cache.WaitForCacheSync\(… nil …\): the stop channel is nil, so this wait can never be abandoned: WaitForCacheSync returns false only when its stop channel closes.*the code that handles false \(a retry, an error, a timeout\) is dead`
			return true
		}
	}
	return false
}
