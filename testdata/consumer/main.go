// Consumer is a Dagger module that uses go-image as a dependency, as a
// team's own CI module does after `dagger install github.com/<you>/go-image`.
// The engine tests install go-image into it by local path and call these
// functions, which reach go-image only through its generated bindings.
package main

import (
	"context"

	"dagger/consumer/internal/dagger"
)

type Consumer struct{}

// User builds the service and returns the image's USER.
func (m *Consumer) User(ctx context.Context, source *dagger.Directory) (string, error) {
	return dag.GoImage(dagger.GoImageOpts{Source: source}).Build().User(ctx)
}

// Check runs go-image's gates with a tighter size budget and without the
// scan, and returns the report.
func (m *Consumer) Check(ctx context.Context, source *dagger.Directory) (string, error) {
	return dag.GoImage(dagger.GoImageOpts{Source: source}).
		WithMaxSize("20MB").
		WithoutScan("consumer test: the scan is tested on its own").
		Check(ctx)
}

// Release gates the service and pushes it to address, through registry
// when the address is on the caller's loopback.
func (m *Consumer) Release(ctx context.Context, source *dagger.Directory, address string,
	// +optional
	registry *dagger.Service,
) (string, error) {
	return dag.GoImage(dagger.GoImageOpts{Source: source, Version: "1.0.0"}).
		WithoutScan("consumer test: the scan is tested on its own").
		Release(ctx, []string{address}, dagger.GoImageReleaseOpts{Registry: registry})
}
