package release

import (
	"context"
	"fmt"
	"io"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/timing"
)

// buildAndGate builds every platform's image and gates it, filling
// res.Images and res.Report. An image's gates start as soon as it is
// built, side by side (gates.Start): the smoke run, which mostly waits for
// the service, is then the critical path, not the sum of the gates. One
// platform's gates run at a time (one Trivy, one service), while the next
// platform compiles. The gates that judge the source (the lint), whose
// verdict is the same for every platform, run once, from the first image
// on: after the compile, whose export data the lint's type-checker reads
// from the build cache (run beside it, it would compile it all too).
//
// The report lists every result in the gates' order, platform by
// platform, whatever order they finished in. Every gate runs on every
// image; nothing is skipped to save time.
func buildAndGate(ctx context.Context, r Request, res *Result, log io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	var started []*gates.Future
	defer func() {
		// On an error, no gate outlives the release: a smoke run's
		// service, a go command of the lint.
		cancel()
		for _, f := range started {
			f.Results()
		}
	}()
	imageOnly := map[string]bool{}
	for _, g := range gates.ImageGates(r.Gates) {
		imageOnly[g.Name()] = true
	}
	platforms := make([][]*gates.Future, len(r.Platforms))
	for i, p := range r.Platforms {
		fmt.Fprintf(log, "go-image: build %s\n", p)
		end := timing.Start(ctx, "build "+p.String())
		img, err := r.Build(ctx, p)
		end()
		if err != nil {
			return fmt.Errorf("build %s: %w", p, err)
		}
		res.Images = append(res.Images, img)
		if i > 0 {
			for _, f := range platforms[i-1] {
				f.Results()
			}
		}
		fmt.Fprintf(log, "go-image: gates on %s\n", p)
		gs := r.Gates
		if i > 0 {
			gs = gates.ImageGates(r.Gates)
		}
		platforms[i] = gates.Start(ctx, img, gs...)
		started = append(started, platforms[i]...)
	}
	for i, fs := range platforms {
		for _, f := range fs {
			for _, x := range f.Results() {
				if len(r.Platforms) > 1 && imageOnly[x.Gate] {
					// IDs stay stable for machines; the message says
					// which platform's image the verdict is about.
					x.Message = r.Platforms[i].String() + ": " + x.Message
				}
				res.Report.Add(x)
			}
		}
	}
	return nil
}
