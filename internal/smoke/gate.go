package smoke

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/report"
)

// Gate runs an image and judges its Kubernetes behaviour.
type Gate struct {
	Runner Runner
	Config Config
}

// Name implements gates.Gate.
func (Gate) Name() string { return "smoke" }

// Check implements gates.Gate.
func (g Gate) Check(ctx context.Context, img v1.Image) ([]report.Result, error) {
	if err := g.Config.Validate(); err != nil {
		return nil, fmt.Errorf("smoke: %w", err)
	}
	r := g.Runner
	if r == nil {
		r = ProcessRunner{}
	}
	// Bounded whatever the service does: start-up, drain, and slack.
	ctx, cancel := context.WithTimeout(ctx, g.Config.StartupBudget+g.Config.Grace+30*time.Second)
	defer cancel()
	p, err := r.Start(ctx, img, g.Config)
	if err != nil {
		return nil, fmt.Errorf("smoke: start the image: %w", err)
	}
	defer p.Close()
	return Evaluate(g.Config, Drive(ctx, g.Config, p)), nil
}
