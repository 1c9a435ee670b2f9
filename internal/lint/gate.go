package lint

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/report"
)

// Gate is the lint step of a release as a gates.Gate: it lints the service's
// source and ignores the image, because the analyzers judge code that the
// stripped binary no longer shows.
type Gate struct {
	// Dir is the Go module root of the service (the directory with
	// go.mod), linted in process when Runner is nil.
	Dir string
	// Runner lints the source another way, e.g. the Dagger module's go vet
	// in its builder; it takes the place of Dir.
	Runner Runner
	// Options are the lint policy (severities) and analyzer settings.
	Options Options
}

// SourceOnly marks the verdict as independent of the image (gates.SourceGate).
func (Gate) SourceOnly() {}

// Name implements gates.Gate.
func (Gate) Name() string { return "lint" }

// Check implements gates.Gate.
func (g Gate) Check(ctx context.Context, _ v1.Image) ([]report.Result, error) {
	r := g.Runner
	if r == nil {
		r = Local{Dir: g.Dir}
	}
	f, err := r.Lint(ctx, g.Options)
	if err != nil {
		if g.Runner == nil {
			return nil, fmt.Errorf("lint %s: %w", g.Dir, err)
		}
		return nil, fmt.Errorf("lint: %w", err)
	}
	return f.Results(g.Options.Policy), nil
}
