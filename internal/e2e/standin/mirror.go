package standin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Mirror is a registry serving the stand-ins under their upstream names,
// for an engine that uses it as its docker.io mirror (engine.toml).
type Mirror struct {
	// Addrs are where it listens: loopback for the engine's pulls, the
	// engine's bridge address for containers (Trivy's DB, release targets).
	Addrs []string
	srv   *http.Server
	lns   []net.Listener
}

// MirrorOptions say what to serve.
type MirrorOptions struct {
	// GoTags are the golang tags to serve the toolchain under, e.g.
	// "1.24-alpine": every tag holds this machine's Go (GOROOT).
	GoTags []string
	// AlpineTags are the alpine tags, e.g. "3.22".
	AlpineTags []string
	// Trivy is the trivy binary; TrivyTag its aquasec/trivy tag. Empty
	// leaves Trivy out.
	Trivy, TrivyTag string
	// TrivyDBCache is a Trivy cache directory whose DB is served as
	// aquasecurity/trivy-db:2 (empty: none).
	TrivyDBCache string
	// Log receives one line per image pushed (nil: silent).
	Log io.Writer
}

// ServeMirror listens on addrs and serves until Close.
func ServeMirror(addrs ...string) (*Mirror, error) {
	m := &Mirror{srv: &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("mirror: listen %s: %w", a, err)
		}
		m.lns = append(m.lns, ln)
		m.Addrs = append(m.Addrs, ln.Addr().String())
		go m.srv.Serve(ln)
	}
	return m, nil
}

// Close stops serving.
func (m *Mirror) Close() error {
	err := m.srv.Close()
	for _, ln := range m.lns {
		ln.Close()
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Push writes img to the mirror as repo:tag (e.g. library/golang:1.24-alpine).
func (m *Mirror) Push(ctx context.Context, repoTag string, img v1.Image) error {
	ref, err := name.ParseReference(m.Addrs[0]+"/"+repoTag, name.Insecure)
	if err != nil {
		return err
	}
	return remote.Write(ref, img, remote.WithContext(ctx))
}

// Fill pushes the stand-ins.
func (m *Mirror) Fill(ctx context.Context, o MirrorOptions) error {
	say := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	if len(o.GoTags) > 0 {
		img, err := Golang(runtime.GOROOT(), strings.TrimPrefix(runtime.Version(), "go"))
		if err != nil {
			return err
		}
		for _, t := range o.GoTags {
			if err := m.Push(ctx, "library/golang:"+t, img); err != nil {
				return fmt.Errorf("push golang:%s: %w", t, err)
			}
			say("mirror: library/golang:%s (Go %s, busybox)", t, runtime.Version())
		}
	}
	if len(o.AlpineTags) > 0 {
		img, err := Alpine()
		if err != nil {
			return err
		}
		for _, t := range o.AlpineTags {
			if err := m.Push(ctx, "library/alpine:"+t, img); err != nil {
				return fmt.Errorf("push alpine:%s: %w", t, err)
			}
			say("mirror: library/alpine:%s (busybox)", t)
		}
	}
	if o.Trivy != "" {
		img, err := Trivy(o.Trivy)
		if err != nil {
			return err
		}
		if err := m.Push(ctx, "aquasec/trivy:"+o.TrivyTag, img); err != nil {
			return fmt.Errorf("push trivy: %w", err)
		}
		say("mirror: aquasec/trivy:%s (%s)", o.TrivyTag, o.Trivy)
	}
	if o.TrivyDBCache != "" {
		img, err := TrivyDB(o.TrivyDBCache)
		if err != nil {
			return err
		}
		if err := m.Push(ctx, TrivyDBRepository+":"+TrivyDBTag, img); err != nil {
			return fmt.Errorf("push trivy DB: %w", err)
		}
		say("mirror: %s:%s (from %s)", TrivyDBRepository, TrivyDBTag, o.TrivyDBCache)
	}
	return nil
}
