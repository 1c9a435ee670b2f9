package recipe

import (
	"fmt"
	"regexp"

	"golang.org/x/mod/modfile"
)

var toolchainRE = regexp.MustCompile(`^go(1\.[0-9]+(\.[0-9]+)?(rc[0-9]+)?)$`)
var releaseRE = regexp.MustCompile(`^(1\.[0-9]+)(\.[0-9]+)?$`)

// GoVersionOf is the golang builder tag a module asks for, so a service that
// needs Go 1.27 is never built by 1.26 in silence: the toolchain line's
// version (toolchain go1.26.8 → 1.26.8), else the go line's release
// (go 1.24 or go 1.24.3 → 1.24, whose image carries that release's newest
// patch). A go.mod with neither gives DefaultGoVersion.
func GoVersionOf(gomod []byte) (string, error) {
	f, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		return "", fmt.Errorf("go.mod: %w", err)
	}
	if f.Toolchain != nil {
		if m := toolchainRE.FindStringSubmatch(f.Toolchain.Name); m != nil {
			return m[1], nil
		}
	}
	if f.Go != nil {
		if m := releaseRE.FindStringSubmatch(f.Go.Version); m != nil {
			return m[1], nil
		}
		return f.Go.Version, nil
	}
	return DefaultGoVersion, nil
}
