// Package policy assembles go-image's standard gate list from the user's
// choices. The CLI's `check` and the Dagger module's Check call the same
// Parse and Standard, so both executors gate an image identically.
package policy

import (
	"fmt"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/harden"
	"dagger/go-image/internal/size"
	"dagger/go-image/internal/upx"
)

// Defaults, as the CLI and the Dagger module show them.
const (
	DefaultMaxSize = "25MB" // size.DefaultMaxSize, as a flag value
	DefaultUPX     = string(upx.Deny)
)

// Options are the gate choices; the zero value is go-image's defaults.
type Options struct {
	// MaxSize is the compressed size budget in bytes; 0 means size.DefaultMaxSize.
	MaxSize int64
	// UPX is the policy for UPX-packed binaries; "" means deny.
	UPX upx.Policy
	// Skip maps a check ID to the reason it is skipped.
	Skip map[string]string
	// Harden tunes the hardening checks; the zero value is the recipe. Its
	// Skip entries are added to Skip.
	Harden harden.Options
	// Scan is the vulnerability gate (a *scan.Gate with its Trivy runner);
	// nil leaves it out, because it needs a trivy binary and a DB that the
	// caller has to provide. [scan gate wiring, owner of internal/scan]
	Scan gates.Gate
}

// Parse turns the flag values (--max-size 25MB, --upx deny, --skip id=reason…)
// into Options, rejecting bad input with the fix.
func Parse(maxSize, upxPolicy string, skip []string) (Options, error) {
	var o Options
	if maxSize == "" {
		maxSize = DefaultMaxSize
	}
	n, err := size.ParseBytes(maxSize)
	if err != nil {
		return o, fmt.Errorf("max size: %w", err)
	}
	o.MaxSize = n
	if o.UPX, err = upx.ParsePolicy(upxPolicy); err != nil {
		return o, err
	}
	if o.Skip, err = harden.ParseSkip(skip); err != nil {
		return o, err
	}
	return o, nil
}

// Standard returns the gates in the order they run: size, scan, upx, harden.
// Cheap, image-wide verdicts come first; every gate runs even after a
// failure (gates.Run), so one report lists everything to fix.
func Standard(o Options) []gates.Gate {
	h := o.Harden
	skip := map[string]string{}
	for _, m := range []map[string]string{o.Harden.Skip, o.Skip} {
		for id, reason := range m {
			skip[id] = reason
		}
	}
	h.Skip = skip
	gs := []gates.Gate{size.Gate{Max: o.MaxSize}}
	// The scan gate runs between size and upx: scanning a packed binary
	// finds nothing, and the upx gate after it explains why.
	if o.Scan != nil {
		gs = append(gs, o.Scan)
	}
	return append(gs, upx.Gate{Policy: o.UPX}, harden.New(h))
}
