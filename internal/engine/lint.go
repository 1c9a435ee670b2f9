package engine

import (
	"context"
	"fmt"
	"strings"

	"dagger/go-image/internal/dagger"
	"dagger/go-image/internal/lint"
	"dagger/go-image/internal/lint/vettool"
	"dagger/go-image/internal/safetext"
	"dagger/go-image/internal/timing"
)

// vetTool is go-image's analyzers as a go vet tool: the module's own
// binary (vettool.RunIfMode in its main package), which runs in the builder
// as the cache program does (CacheProg). Nothing is compiled for it: a
// fresh engine used to build cmd/k8slint and its dependencies first, in a
// builder of go-image's own Go release (about 20 s cold).
func (e *Executor) vetTool() (*dagger.File, error) {
	f, err := selfBinary(e.Dag, vettool.Name)
	if err != nil {
		return nil, fmt.Errorf("lint: %w", err)
	}
	return f, nil
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
	tool, err := e.vetTool()
	if err != nil {
		return nil, err
	}
	// The compile's package configuration: go vet then reads the export
	// data the compile left in the build cache volume.
	pk := e.Options.Packages()
	vet := withEnv(e.builder(), pk.Env)
	// The module's generated client wants a session at init, which the
	// vet tool never opens: placeholders, as for the cache program.
	path := "/usr/local/bin/" + vettool.Name
	vet = vet.WithFile(path, tool, dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithEnvVariable("DAGGER_SESSION_PORT", "0").
		WithEnvVariable("DAGGER_SESSION_TOKEN", "unused-by-the-vet-tool").
		WithExec(lint.Build{Flags: pk.Args}.VetCommand(path, o), dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
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
		return nil, fmt.Errorf("go vet -vettool=k8slint exited %d (does the source build?):\n%s", code, safetext.Tail(stderr, execTail))
	}
	// go vet -json writes the diagnostics to stdout since Go 1.26 and to
	// stderr before; read both, so the builder's Go release does not
	// decide whether findings are seen.
	fs, err := lint.ParseVetJSON(strings.NewReader(stdout + "\n" + stderr))
	if err != nil {
		return nil, fmt.Errorf("%w (go vet's stderr began: %q)", err, stderr[:min(len(stderr), 300)])
	}
	return fs, nil
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
