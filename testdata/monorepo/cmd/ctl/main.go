// Command ctl is the monorepo's command-line tool: it runs and exits, so
// it is not a service, and go-image.yaml switches its smoke gate off.
package main

import "fmt"

var version = "dev"

func main() {
	fmt.Println("ctl", version)
}
