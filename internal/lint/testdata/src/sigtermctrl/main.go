// Command sigtermctrl handles SIGTERM through controller-runtime's
// SetupSignalHandler (a variable there): fine.
package main

import (
	"sigtermapi"

	ctrl "sigs.k8s.io/controller-runtime"
)

func main() { sigtermapi.Serve(ctrl.SetupSignalHandler()) }
