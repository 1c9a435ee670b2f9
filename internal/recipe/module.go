package recipe

import (
	"fmt"

	"golang.org/x/mod/modfile"
)

// ForModule is o as both executors build it for the module whose go.mod is
// gomod: the binary name, when none is given, from the main package or the
// module path (DefaultName); the Go version, when none is given and pinGo
// is set, from go.mod (GoVersionOf), since the Dagger builder is the
// golang:<version>-alpine image (the CLI compiles with the local toolchain
// and an injected builder brings its own Go: both leave pinGo unset); then
// every other default (Normalize).
func (o Options) ForModule(gomod []byte, pinGo bool) (Options, error) {
	if o.Name == "" {
		mod := modfile.ModulePath(gomod)
		if mod == "" {
			return o, fmt.Errorf("go.mod has no module line: is the source a Go module root?")
		}
		o.Name = DefaultName(o.Main, mod)
	}
	if o.GoVersion == "" && pinGo {
		v, err := GoVersionOf(gomod)
		if err != nil {
			return o, fmt.Errorf("source: %w", err)
		}
		o.GoVersion = v
	}
	return o.Normalize()
}
