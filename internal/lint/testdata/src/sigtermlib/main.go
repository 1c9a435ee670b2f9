// Command sigtermlib handles SIGTERM in a package of its own and serves
// from another: fine.
package main

import (
	"sigtermapi"
	"sigtermsignals"
)

func main() { sigtermapi.Serve(sigtermsignals.SetupSignalContext()) }
