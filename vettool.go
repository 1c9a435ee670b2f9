package main

import "dagger/go-image/internal/lint/vettool"

// The builder's go vet runs this module's own binary as its vet tool
// (internal/engine.Linter): started under vettool.Name, it runs the lint
// analyzers and exits here, before main talks to Dagger.
func init() { vettool.RunIfMode() }
