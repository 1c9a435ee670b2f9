// Package policy is go-image's standard gate list: its order, and the
// gates switched off with a reason. Both executors reach it through
// internal/choices (Gates.List), so they gate an image identically.
package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/harden"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/size"
	"dagger/go-image/internal/upx"
)

// Options are the gate choices; the zero value is go-image's defaults.
type Options struct {
	// MaxSize is the compressed size budget in bytes; 0 means
	// size.DefaultMaxSize, the one default.
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
	// Lint judges the service's source (lint.Gate, or the Dagger module's
	// vet run); Smoke runs the image as a pod would (smoke.Gate). nil
	// leaves the gate out.
	Lint, Smoke gates.Gate
	// Off maps a gate name (see Names) to the reason it is switched off.
	// An off gate still appears in the report, as skipped with its reason,
	// so a release never looks more checked than it was. Use SwitchOff to
	// fill it with validation.
	Off map[string]string
}

// Names are the gates of the standard list, in the report's order.
var Names = []string{"size", "scan", "upx", "harden", "lint", "smoke"}

// SwitchOff records that gate is off for reason. The reason is required:
// it is what the report shows in place of the gate's verdict.
func (o *Options) SwitchOff(gate, reason string) error {
	if !known(gate) {
		return fmt.Errorf("switch off gate %q: no such gate; use one of %s", gate, strings.Join(Names, ", "))
	}
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("switch off gate %s: give the reason, e.g. %q; it is recorded in the report", gate, "no trivy DB on this runner")
	}
	if o.Off == nil {
		o.Off = map[string]string{}
	}
	o.Off[gate] = reason
	return nil
}

func known(gate string) bool {
	for _, n := range Names {
		if n == gate {
			return true
		}
	}
	return false
}

// Standard returns the gates in the report's order: size, scan, upx,
// harden, lint, smoke. Cheap, image-wide verdicts come first, the run of
// the image last; they run side by side (gates.Start), and every gate runs
// even after a failure, so one report lists everything to fix. A gate in Off is replaced by one
// skipped result that names it and the reason; a nil Scan, Lint or Smoke is
// left out.
func Standard(o Options) []gates.Gate {
	h := o.Harden
	skip := map[string]string{}
	for _, m := range []map[string]string{o.Harden.Skip, o.Skip} {
		for id, reason := range m {
			skip[id] = reason
		}
	}
	h.Skip = skip
	// The scan gate runs between size and upx: scanning a packed binary
	// finds nothing, and the upx gate after it explains why.
	all := []gates.Gate{size.Gate{Max: o.MaxSize}, o.Scan, upx.Gate{Policy: o.UPX}, harden.New(h), o.Lint, o.Smoke}
	var gs []gates.Gate
	for i, g := range all {
		if reason, off := o.Off[Names[i]]; off {
			gs = append(gs, Off{Gate: Names[i], Reason: reason})
			continue
		}
		if g != nil {
			gs = append(gs, g)
		}
	}
	// A misspelt name must not pass for a switched-off gate.
	var unknown []string
	for name := range o.Off {
		if !known(name) {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		gs = append(gs, Off{Gate: name, Reason: o.Off[name]})
	}
	return gs
}

// Off is a switched-off gate: its one result is skipped, with the reason.
// An Off whose Gate is not a standard gate fails instead, since it switches
// nothing off and the user meant something else.
type Off struct {
	Gate, Reason string
}

// Name implements gates.Gate.
func (g Off) Name() string { return g.Gate }

// SourceOnly marks the verdict as independent of the image (gates.SourceGate).
func (Off) SourceOnly() {}

// The standard source gates run once per release, not once per platform.
var (
	_ gates.SourceGate = Off{}
	_ gates.SourceGate = lint.Gate{}
)

// Check implements gates.Gate.
func (g Off) Check(context.Context, v1.Image) ([]report.Result, error) {
	if !known(g.Gate) {
		return []report.Result{{Gate: g.Gate, ID: g.Gate + "/off", Status: report.Fail,
			Message: fmt.Sprintf("gate %q switched off, but there is no such gate: use one of %s", g.Gate, strings.Join(Names, ", "))}}, nil
	}
	reason := g.Reason
	if strings.TrimSpace(reason) == "" {
		reason = "no reason given"
	}
	return []report.Result{{Gate: g.Gate, ID: g.Gate + "/off", Status: report.Skipped,
		Message: fmt.Sprintf("%s gate switched off: %s", g.Gate, reason)}}, nil
}
