// Package kube builds Kubernetes clients.
package kube

import (
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func Clients() *kubernetes.Clientset { return kubernetes.NewForConfigOrDie(&rest.Config{}) }
