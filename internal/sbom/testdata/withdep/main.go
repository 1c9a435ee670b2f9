// Command withdep is a fixture: a main module with one dependency, so the
// SBOM test sees a real dependency with a go.sum hash in the build info.
package main

import (
	"fmt"

	"golang.org/x/mod/semver"
)

func main() { fmt.Println(semver.Canonical("v1.2")) }
