package main

import (
	"context"
	"flag"
	"io"

	"dagger/go-image/internal/timing"
)

// timingsFlag is --timings: print how long each stage took (the compile's
// steps, each gate, the push) after the command's own output.
type timingsFlag struct{ on bool }

func addTimingsFlag(fs *flag.FlagSet) *timingsFlag {
	t := &timingsFlag{}
	fs.BoolVar(&t.on, "timings", false, "print how long each stage took (compile steps, each gate, the push) to stderr at the end")
	return t
}

// start returns ctx with a recorder when the flag is set, and the function
// that prints it; both are no-ops otherwise.
func (t *timingsFlag) start(ctx context.Context, stderr io.Writer) (context.Context, func()) {
	if !t.on {
		return ctx, func() {}
	}
	return timing.Logged(ctx, stderr)
}
