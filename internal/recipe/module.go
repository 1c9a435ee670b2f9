package recipe

import (
	"fmt"
	"strings"

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

// ParseLabels reads extra OCI labels given as key=value (--label, the
// labels argument); a key given twice keeps its last value, as docker build
// --label does.
func ParseLabels(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	labels := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q: want key=value, e.g. org.opencontainers.image.vendor=acme", kv)
		}
		labels[k] = v
	}
	return labels, nil
}
