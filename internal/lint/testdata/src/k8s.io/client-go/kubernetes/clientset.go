// Package kubernetes is a stub of k8s.io/client-go/kubernetes.
package kubernetes

import (
	"net/http"

	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

type Interface interface {
	CoreV1() corev1.CoreV1Interface
}

type Clientset struct{ core corev1.CoreV1Interface }

func (c *Clientset) CoreV1() corev1.CoreV1Interface { return c.core }

func NewForConfig(*rest.Config) (*Clientset, error)                        { return &Clientset{}, nil }
func NewForConfigOrDie(*rest.Config) *Clientset                            { return &Clientset{} }
func NewForConfigAndClient(*rest.Config, *http.Client) (*Clientset, error) { return &Clientset{}, nil }
