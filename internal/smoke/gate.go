package smoke

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/report"
	"dagger/go-image/internal/timing"
)

// Gate runs an image and judges its Kubernetes behaviour.
type Gate struct {
	Runner Runner
	Config Config
	// Native is the os/arch the runner executes images on ("" runs every
	// image). Images of another platform are not run, and get a skipped
	// result that says so: the runners start images natively, never
	// emulated, and a multi-platform release must not fail (or pass) on a
	// platform nobody ran.
	Native string
}

// Name implements gates.Gate.
func (Gate) Name() string { return "smoke" }

// Check implements gates.Gate.
func (g Gate) Check(ctx context.Context, img v1.Image) ([]report.Result, error) {
	if err := g.Config.Validate(); err != nil {
		return nil, fmt.Errorf("smoke: %w", err)
	}
	if g.Native != "" {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		if p := cf.OS + "/" + cf.Architecture; p != g.Native {
			return []report.Result{{Gate: g.Name(), ID: g.Name() + "/platform", Status: report.Skipped,
				Message: fmt.Sprintf("%s image not run: the smoke runner starts images natively on %s, without emulation; run the smoke gate on a %s machine (or engine) to check it", p, g.Native, p)}}, nil
		}
	}
	r := g.Runner
	if r == nil {
		r = ProcessRunner{}
	}
	// Bounded whatever the service does: start-up, drain, and slack.
	ctx, cancel := context.WithTimeout(ctx, g.Config.StartupBudget+g.Config.Grace+30*time.Second)
	defer cancel()
	end := timing.Start(ctx, "smoke: start the image")
	p, err := r.Start(ctx, img, g.Config)
	end()
	if err != nil {
		return nil, fmt.Errorf("smoke: start the image: %w", err)
	}
	defer func() {
		defer timing.Start(ctx, "smoke: stop and clean up")()
		p.Close()
	}()
	return Evaluate(g.Config, Drive(ctx, g.Config, p)), nil
}
