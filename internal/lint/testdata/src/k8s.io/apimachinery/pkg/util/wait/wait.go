// Package wait is a stub of k8s.io/apimachinery/pkg/util/wait.
package wait

var NeverStop <-chan struct{} = make(chan struct{})
