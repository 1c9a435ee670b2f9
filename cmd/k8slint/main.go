// Command k8slint runs go-image's Kubernetes analyzers (clients built per
// request, uncancellable watches and informers, servers that cannot drain,
// health routes on the business mux) as a vet tool:
//
//	go install dagger/go-image/cmd/k8slint
//	go vet -vettool=$(which k8slint) ./...
//
// or standalone: k8slint ./...
package main

import (
	"golang.org/x/tools/go/analysis/multichecker"

	"dagger/go-image/internal/lint"
)

func main() { multichecker.Main(lint.Analyzers()...) }
