// Package clientlib builds clients for its callers: calling Clients builds
// one, which the importing package must not do per request.
package clientlib

import (
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func config() *rest.Config { return &rest.Config{} }

func Clients() *kubernetes.Clientset {
	c, _ := kubernetes.NewForConfig(config())
	return c
}
