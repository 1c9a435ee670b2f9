package engine

import (
	"context"
	"fmt"
	"strings"

	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/timing"
)

// vetTool builds go-image's analyzers as a go vet tool (cmd/k8slint) from
// the module's own source, with a builder of the Go release go-image
// itself needs (its go.mod): the service's Go may be older. An injected
// builder is used as is.
func (e *Executor) vetTool(ctx context.Context) (*dagger.File, error) {
	b := e.Builder
	if b == nil {
		gomod, err := e.Module.File("go.mod").Contents(ctx)
		if err != nil {
			return nil, fmt.Errorf("go-image's own go.mod: %w", err)
		}
		v, err := recipe.GoVersionOf([]byte(gomod))
		if err != nil {
			return nil, err
		}
		b = e.Dag.Container().From(fmt.Sprintf(DefaultBuilderImage, v))
	}
	return b.
		WithMountedCache("/go/pkg/mod", e.Cache("gomod")).
		WithMountedCache("/root/.cache/go-build", e.Cache("gobuild")).
		WithEnvVariable("GOMODCACHE", "/go/pkg/mod").
		WithEnvVariable("GOCACHE", "/root/.cache/go-build").
		WithEnvVariable("GOTOOLCHAIN", "local").
		WithEnvVariable("CGO_ENABLED", "0").
		WithDirectory("/go-image", e.Module).
		WithWorkdir("/go-image").
		WithExec([]string{"go", "build", "-o", "/out/k8slint", "./cmd/k8slint"}).
		File("/out/k8slint"), nil
}

// SourceDir is where the builder holds the source; findings are relative
// to it in reports and SARIF.
const SourceDir = "/src"

// Lint runs the analyzers over every package of the source with
// `go vet -vettool=k8slint -json` in the service's builder, under the
// compile's package configuration (recipe.Options.Packages), configured as
// the CLI's in-process run with o, and returns the findings, which
// o.Policy.Results and lint.SARIF turn into the CLI's report and SARIF.
func (e *Executor) Lint(ctx context.Context, o lint.Options) ([]lint.Finding, error) {
	if err := e.checkReplaces(); err != nil {
		return nil, err
	}
	end := timing.Start(ctx, "lint: go vet in the builder")
	defer end()
	tool, err := e.vetTool(ctx)
	if err != nil {
		return nil, err
	}
	// The compile's package configuration: go vet then reads the export
	// data the compile left in the build cache volume.
	pk := e.Options.Packages()
	vet := e.builder()
	for _, kv := range pk.Env {
		k, v, _ := strings.Cut(kv, "=")
		vet = vet.WithEnvVariable(k, v)
	}
	vet = vet.WithFile("/usr/local/bin/k8slint", tool).
		WithExec(lint.Build{Flags: pk.Args}.VetCommand("/usr/local/bin/k8slint", o), dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := vet.ExitCode(ctx)
	if err != nil {
		return nil, fmt.Errorf("go vet: %w", err)
	}
	stdout, err := vet.Stdout(ctx)
	if err != nil {
		return nil, err
	}
	stderr, err := vet.Stderr(ctx)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("go vet -vettool=k8slint exited %d (does the source build?):\n%s", code, stderr)
	}
	// go vet -json writes the diagnostics to stdout since Go 1.26 and to
	// stderr before; read both, so the builder's Go release does not
	// decide whether findings are seen.
	return lint.ParseVetJSON(strings.NewReader(stdout + "\n" + stderr))
}

// Linter is the lint gate's runner in the engine (lint.Runner): go vet
// with the analyzers in the service's builder. go vet does not say how many
// packages it analysed.
type Linter struct{ E *Executor }

// Lint implements lint.Runner.
func (l Linter) Lint(ctx context.Context, o lint.Options) (lint.Findings, error) {
	fs, err := l.E.Lint(ctx, o)
	return lint.Findings{Dir: SourceDir, Packages: -1, List: fs}, err
}
