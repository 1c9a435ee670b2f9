// Package vettool makes a binary the lint analyzers' vet tool when it is
// started under Name: the Dagger module's own binary, copied into the
// builder container, so that `go vet -vettool` needs nothing compiled on a
// fresh engine (cmd/k8slint is the same tool, built on its own).
package vettool

import (
	"os"
	"path/filepath"

	"golang.org/x/tools/go/analysis/multichecker"

	"dagger/go-image/internal/lint"
)

// Name is the file name the binary must be started under, as go vet
// starts the tool it is given: by its path.
const Name = "go-image-vettool"

// RunIfMode runs the analyzers as a vet tool, and exits, when the binary
// was started under Name; it returns otherwise. Call it from an init of the
// main package, before the main package talks to anything.
func RunIfMode() {
	if filepath.Base(os.Args[0]) != Name {
		return
	}
	multichecker.Main(lint.Analyzers()...)
}
