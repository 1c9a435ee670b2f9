package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/endpoint"
	"dagger/go-image/internal/smoke"
	"dagger/go-image/internal/timing"
)

// Runner runs a built image as a Dagger service for the smoke gate
// (smoke.Runner). The gate's own driver (smoke.Drive, the CLI's) probes it
// from the module's process through the service's endpoints, and SIGTERM
// is Service.Stop without kill, which returns once the process has exited.
type Runner struct{ E *Executor }

// Start implements smoke.Runner.
func (r Runner) Start(ctx context.Context, img v1.Image, cfg smoke.Config) (smoke.Process, error) {
	b, err := r.E.AsBuilt(img)
	if err != nil {
		return nil, err
	}
	ctr, err := r.E.Container(b)
	if err != nil {
		return nil, err
	}
	// No health check on the ports: the driver measures start-up itself,
	// and a readiness lie before the business port opens stays visible.
	// The nonce makes every run a fresh service, never a cached one.
	// The same user as the CLI's runners: the image's, never root. An engine
	// container is isolated, but a root service there holds runc's default
	// capabilities on the engine's network.
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read image config: %w", err)
	}
	uid, gid, note, err := smoke.ImageIdentity(ctx, img, cf.Config.User)
	if err != nil {
		return nil, err
	}
	skip := dagger.ContainerWithExposedPortOpts{ExperimentalSkipHealthcheck: true}
	svc := ctr.WithUser(fmt.Sprintf("%d:%d", uid, gid)).WithExposedPort(cfg.BusinessPort, skip).WithExposedPort(cfg.ProbePort, skip).
		WithEnvVariable("GO_IMAGE_SMOKE_RUN", strconv.FormatInt(time.Now().UnixNano(), 10)).
		AsService(dagger.ContainerAsServiceOpts{UseEntrypoint: true})
	end := timing.Start(ctx, "smoke: import the image, start the service")
	svc, err = svc.Start(ctx)
	end()
	if err != nil {
		return nil, fmt.Errorf("start the image as a service: %s", execError(err))
	}
	p := &service{svc: svc, grace: cfg.Grace, done: make(chan struct{}), ctx: context.WithoutCancel(ctx)}
	p.info = smoke.Info{Runner: fmt.Sprintf("dagger service (Container.asService as uid %d gid %d; SIGTERM by Service.stop, which returns once the process exited; the exit status is not visible)", uid, gid)}
	if note != "" {
		p.info.Runner += "; " + note
	}
	if p.info.BusinessAddr, err = ServiceAddr(ctx, svc, cfg.BusinessPort); err != nil {
		p.Close()
		return nil, err
	}
	if p.info.ProbeAddr, err = ServiceAddr(ctx, svc, cfg.ProbePort); err != nil {
		p.Close()
		return nil, err
	}
	// Start-up counts from here, once Service.start has launched the process
	// and its addresses are known: the image import, the container's set-up
	// and a slow engine DNS are the engine's time, not the service's, and
	// nothing could probe the service before.
	p.info.Started = time.Now()
	return p, nil
}

// ServiceAddr is a started service's endpoint for port (0: its first
// exposed port), at the IP its name resolves to (endpoint.Pin). Whoever
// dials a service many times (the smoke driver's probes, a push) uses it,
// so that one failed lookup of the name cannot read as a service that
// stopped or a registry that is unreachable.
func ServiceAddr(ctx context.Context, svc *dagger.Service, port int) (string, error) {
	addr, err := svc.Endpoint(ctx, dagger.ServiceEndpointOpts{Port: port})
	if err != nil {
		if port == 0 {
			return "", fmt.Errorf("service endpoint: %w", err)
		}
		return "", fmt.Errorf("service endpoint :%d: %w", port, err)
	}
	return endpoint.Pin(ctx, net.DefaultResolver, addr)
}

// service is a started Dagger service as a smoke.Process.
type service struct {
	svc   *dagger.Service
	info  smoke.Info
	grace time.Duration
	ctx   context.Context

	term sync.Once
	done chan struct{}
	exit smoke.Exit
}

func (p *service) Info() smoke.Info { return p.info }

// Signal sends SIGTERM through Service.Stop and closes Done once the
// process has exited. A process still running after the grace period
// (plus slack) never closes Done: the driver reports it as not exited.
func (p *service) Signal(s os.Signal) error {
	if s != syscall.SIGTERM {
		return errors.New("a Dagger service can only be sent SIGTERM (Service.stop)")
	}
	p.term.Do(func() {
		go func() {
			ctx, cancel := context.WithTimeout(p.ctx, p.grace+5*time.Second)
			defer cancel()
			if _, err := p.svc.Stop(ctx); err != nil {
				return
			}
			p.exit = smoke.Exit{Code: -1, Unknown: true, At: time.Now()}
			close(p.done)
		}()
	})
	return nil
}

func (p *service) Done() <-chan struct{} { return p.done }
func (p *service) Exit() smoke.Exit      { <-p.done; return p.exit }

// Output is empty: a Dagger service's output is not readable from a module.
func (p *service) Output() []string { return nil }

// Close kills the service if it still runs.
func (p *service) Close() error {
	select {
	case <-p.done:
		return nil // Service.stop returned: the process is gone
	default:
	}
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	_, err := p.svc.Stop(ctx, dagger.ServiceStopOpts{Kill: true})
	return err
}
