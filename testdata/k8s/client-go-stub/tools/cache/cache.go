// Package cache is a stub of k8s.io/client-go/tools/cache.
package cache

type SharedInformer interface {
	Run(stopCh <-chan struct{})
	HasSynced() bool
}

type SharedIndexInformer interface {
	SharedInformer
}
