// Package gates runs go-image's gates over an image in a fixed order and
// collects one report. A gate that cannot decide (it errored) fails: an
// image is never shipped because a check could not run.
package gates

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/report"
)

// Gate is one check stage over an image.
type Gate interface {
	// Name is the gate's short name: size, scan, upx, harden, smoke, lint.
	Name() string
	Check(ctx context.Context, img v1.Image) ([]report.Result, error)
}

// SourceGate is a Gate whose verdict does not depend on the image: it
// judges the source (lint) or only records a choice (a gate switched off).
// A multi-platform release runs it once, not once per platform image.
type SourceGate interface {
	Gate
	SourceOnly()
}

// ImageGates returns gs without its SourceGates, in order.
func ImageGates(gs []Gate) []Gate {
	var out []Gate
	for _, g := range gs {
		if _, ok := g.(SourceGate); !ok {
			out = append(out, g)
		}
	}
	return out
}

// Run runs gates in order and returns the report. Every gate runs, even
// after a failure, so that one run shows the user everything to fix.
func Run(ctx context.Context, img v1.Image, gs ...Gate) *report.Report {
	r := &report.Report{}
	for _, g := range gs {
		if err := ctx.Err(); err != nil {
			r.Add(report.Result{Gate: g.Name(), ID: g.Name(), Status: report.Fail, Message: fmt.Sprintf("not run: %v", err)})
			continue
		}
		res, err := g.Check(ctx, img)
		if err != nil {
			r.Add(report.Result{Gate: g.Name(), ID: g.Name() + "/error", Status: report.Fail,
				Message: fmt.Sprintf("gate could not run: %v", err)})
			continue
		}
		r.Add(res...)
	}
	return r
}
