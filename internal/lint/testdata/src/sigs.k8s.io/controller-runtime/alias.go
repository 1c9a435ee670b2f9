// Package controllerruntime is a stub of sigs.k8s.io/controller-runtime's
// aliases.
package controllerruntime

import "context"

// SetupSignalHandler is a variable in controller-runtime too.
var SetupSignalHandler = func() context.Context { return context.Background() }
