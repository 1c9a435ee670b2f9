// Package gates runs go-image's gates over an image, side by side, and
// collects one report in a fixed order. A gate that cannot decide (it errored or panicked)
// fails: an image is never shipped because a check could not run, and a
// crafted image that crashes one gate still gets a report from the others.
package gates

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/timing"
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

// Run runs gates side by side on img and returns the report, the results
// in the gates' order whatever order they finish in. Every gate runs, even
// after a failure, so that one run shows the user everything to fix.
func Run(ctx context.Context, img v1.Image, gs ...Gate) *report.Report {
	return Collect(Start(ctx, img, gs...)...)
}

// Start starts gs on img side by side and returns their futures, in
// order: each gate in a goroutine of its own (Go), except the PassGates,
// which share one read of the image (one goroutine, one imagefs.Pass).
func Start(ctx context.Context, img v1.Image, gs ...Gate) []*Future {
	fs := make([]*Future, len(gs))
	var pass []PassGate
	var at []int
	for i, g := range gs {
		if pg, ok := g.(PassGate); ok {
			pass, at = append(pass, pg), append(at, i)
			continue
		}
		fs[i] = Go(ctx, img, g)
	}
	for j, f := range goPass(ctx, img, pass) {
		fs[at[j]] = f
	}
	return fs
}

// Collect waits for every future and returns their results as one report,
// in the futures' order.
func Collect(fs ...*Future) *report.Report {
	r := &report.Report{}
	for _, f := range fs {
		r.Add(f.Results()...)
	}
	return r
}

// PassGate is a gate that judges the image from one read of its layers
// shared with other such gates (size, upx, harden): they used to read
// every layer each, decompressing and hashing it three times.
type PassGate interface {
	Gate
	// Plan adds what the gate reads to p, a pass over img, and returns
	// the function that judges img once p has run. Check is then the same
	// as Plan, Run and the judge (CheckAlone).
	Plan(ctx context.Context, img v1.Image, p *imagefs.Pass) (func(ctx context.Context, r *imagefs.Result) ([]report.Result, error), error)
}

// CheckAlone is g's Check: a pass over img of its own.
func CheckAlone(ctx context.Context, img v1.Image, g PassGate) ([]report.Result, error) {
	p := &imagefs.Pass{}
	judge, err := g.Plan(ctx, img, p)
	if err != nil {
		return nil, err
	}
	r, err := p.Run(ctx, img)
	if err != nil {
		return nil, err
	}
	return judge(ctx, r)
}

// goPass runs gs over one pass of img, in one goroutine: each gate's
// future is done as soon as its own verdict is.
func goPass(ctx context.Context, img v1.Image, gs []PassGate) []*Future {
	fs := make([]*Future, len(gs))
	for i := range fs {
		fs[i] = &Future{done: make(chan struct{})}
	}
	if len(gs) == 0 {
		return fs
	}
	go func() {
		judges := make([]func(context.Context, *imagefs.Result) ([]report.Result, error), len(gs))
		done := func(i int, res []report.Result) {
			fs[i].res = res
			close(fs[i].done)
		}
		p := &imagefs.Pass{}
		var names []string
		for i, g := range gs {
			name := nameOf(g)
			names = append(names, name)
			res, err := Protect(name, func() ([]report.Result, error) {
				if err := ctx.Err(); err != nil {
					return notRun(name, err), nil
				}
				j, err := g.Plan(ctx, img, p)
				judges[i] = j
				return nil, err
			})
			if err != nil {
				res = couldNotRun(name, err)
			}
			if res != nil {
				done(i, res)
				judges[i] = nil
			}
		}
		end := timing.Start(ctx, "image pass ("+strings.Join(names, ", ")+")")
		r, err := p.Run(ctx, img)
		end()
		for i := range gs {
			if judges[i] == nil {
				continue
			}
			name := names[i]
			if err != nil {
				done(i, couldNotRun(name, err))
				continue
			}
			endGate := timing.Start(ctx, "gate "+name)
			res, err := Protect(name, func() ([]report.Result, error) { return judges[i](ctx, r) })
			endGate()
			var pe *imagefs.PanicError
			switch {
			case errors.As(err, &pe):
				res = []report.Result{panicResult(name, pe.Value, pe.Stack)}
			case err != nil:
				res = couldNotRun(name, err)
			}
			done(i, res)
		}
	}()
	return fs
}

// Future is a gate running: its verdict once it is done.
type Future struct {
	done chan struct{}
	res  []report.Result
}

// Go starts g on img in a goroutine of its own. Gates run side by side
// because most of a release's gate time is waiting (smoke waits for the
// service, the lint for the go command), not computing; each reads the
// image through its own reader, and each one's panic is its own failure
// (Protect).
func Go(ctx context.Context, img v1.Image, g Gate) *Future {
	f := &Future{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.res = check(ctx, img, g)
	}()
	return f
}

// Results waits for the gate and returns its results.
func (f *Future) Results() []report.Result {
	<-f.done
	return f.res
}

// check runs one gate: a gate that errors or panics fails, and a gate
// whose context is done fails as not run.
func check(ctx context.Context, img v1.Image, g Gate) []report.Result {
	name := nameOf(g)
	defer timing.Start(ctx, "gate "+name)()
	res, err := Protect(name, func() ([]report.Result, error) {
		if err := ctx.Err(); err != nil {
			return notRun(name, err), nil
		}
		return g.Check(ctx, img)
	})
	var pe *imagefs.PanicError
	switch {
	case errors.As(err, &pe):
		return []report.Result{panicResult(name, pe.Value, pe.Stack)}
	case err != nil:
		return couldNotRun(name, err)
	}
	return res
}

func notRun(name string, err error) []report.Result {
	return []report.Result{{Gate: name, ID: name, Status: report.Fail, Message: fmt.Sprintf("not run: %v", err)}}
}

func couldNotRun(name string, err error) []report.Result {
	return []report.Result{{Gate: name, ID: name + "/error", Status: report.Fail,
		Message: fmt.Sprintf("gate could not run: %v", err)}}
}

// nameOf is g's name, or "gate" when even Name panics (a nil gate).
func nameOf(g Gate) (name string) {
	defer func() {
		if recover() != nil {
			name = "gate"
		}
	}()
	return g.Name()
}

// PanicID is the check ID of a gate that panicked, after its name:
// "upx/panic".
const PanicID = "panic"

// maxStack bounds the stack lines a panic's result lists: the frames
// nearest the panic say where; the rest is the runner.
const maxStack = 24

// Protect runs one gate's check, turning a panic into one failed result
// that names the gate and the panic's value, with the top of the stack as
// details. Gates parse untrusted input (ELF headers, tar entries, Trivy's
// JSON), and a bug there must fail that gate, never crash go-image before
// the report is written. Only the calling goroutine is protected: a gate
// must not let its own goroutines panic.
func Protect(name string, check func() ([]report.Result, error)) (res []report.Result, err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		res, err = []report.Result{panicResult(name, p, debug.Stack())}, nil
	}()
	return check()
}

// panicResult is the failed result of a gate that panicked with v.
func panicResult(name string, v any, st []byte) report.Result {
	return report.Result{Gate: name, ID: name + "/" + PanicID, Status: report.Fail,
		Message: fmt.Sprintf("the %s gate crashed (panic: %v): the image holds input this gate does not handle; it fails rather than pass unchecked. Please report this with the details", name, v),
		Details: stack(st),
	}
}

// stack keeps the frames between the panic and Protect: debug.Stack
// starts with the goroutine header and the deferred function's frames, and
// ends with the runner's.
func stack(b []byte) []string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			lines = lines[i:]
			break
		}
	}
	for i, l := range lines {
		if strings.Contains(l, "/internal/gates.Protect(") || strings.Contains(l, "/internal/gates.check.func") ||
			strings.Contains(l, "/internal/imagefs.(*Pass).inspect.func") {
			lines = lines[:i]
			break
		}
	}
	if len(lines) > maxStack {
		lines = append(lines[:maxStack:maxStack], fmt.Sprintf("… %d more stack lines", len(lines)-maxStack))
	}
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return lines
}
