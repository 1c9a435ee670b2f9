package smoke

import (
	"context"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Runner starts an image so that the driver can reach it on loopback.
type Runner interface {
	Start(ctx context.Context, img v1.Image, cfg Config) (Process, error)
}

// Process is a running image.
type Process interface {
	// Info says which runner runs it and where the driver reaches it.
	Info() Info
	Signal(os.Signal) error
	// Done is closed once the process has exited; Exit then says how.
	Done() <-chan struct{}
	Exit() Exit
	// Output is the tail of what the process wrote to stdout and stderr.
	Output() []string
	// Close kills the process if it still runs and removes what Start made.
	Close() error
}

// Info describes a started process.
type Info struct {
	// Runner names the runner and its isolation, for the report.
	Runner       string
	BusinessAddr string // host:port
	ProbeAddr    string // host:port
	Started      time.Time
}

// Exit is how a process ended.
type Exit struct {
	// Code is the exit status; -1 when a signal ended the process or the
	// runner cannot know.
	Code int `json:"code"`
	// Signal names the signal that killed the process, "" if it exited.
	Signal string `json:"signal,omitempty"`
	// Unknown is set by runners that see the end but not the status (a
	// Dagger service reports neither code nor signal).
	Unknown bool      `json:"unknown,omitempty"`
	At      time.Time `json:"at"`
}
