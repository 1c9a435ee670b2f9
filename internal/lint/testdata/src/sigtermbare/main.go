// Command sigtermbare serves the same API with no signal handling at all:
// the finding is on main, naming the server another package starts.
package main

import (
	"context"

	"sigtermapi"
)

func main() { // want `this program serves HTTP \(the http.Server \(Addr: ":8080"\) at api.go:\d+ \(package sigtermapi\)\) and nothing in it handles SIGTERM`
	sigtermapi.Serve(context.Background())
}
