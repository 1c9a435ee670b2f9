// Command k8slint runs go-image's Kubernetes analyzers (clients built per
// request, uncancellable watches and informers, servers that cannot drain,
// shutdowns that never see SIGTERM, health routes on the business mux) as a
// vet tool:
//
//	go install dagger/go-image/cmd/k8slint
//	go vet -vettool=$(which k8slint) ./...
//
// or standalone: k8slint ./...
//
// The analyzers carry facts across packages (go vet runs the tool on every
// package; dependencies outside the main module are skipped), honour
// //go-image:ignore <analyzer> -- <reason> comments (a suppressed finding is
// reported with the category "suppressed" and the reason as related
// information) and take -healthmux.operational=PREFIX,… for the operational
// routes. Severities are applied to the findings afterwards, by
// lint.Policy.Results, as go-image lint does.
package main

import (
	"golang.org/x/tools/go/analysis/multichecker"

	"dagger/go-image/internal/lint"
)

func main() { multichecker.Main(lint.Analyzers()...) }
