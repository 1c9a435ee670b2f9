package release

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
)

// events is an ordered log of what the pipeline did.
type events struct {
	mu    sync.Mutex
	added sync.Cond
	log   []string
}

func newEvents() *events {
	e := &events{}
	e.added.L = &e.mu
	return e
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.log = append(e.log, s)
	e.added.Broadcast()
	e.mu.Unlock()
}

// wait returns once s happened.
func (e *events) wait(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for !slices.Contains(e.log, s) {
		e.added.Wait()
	}
}

func (e *events) index(s string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, x := range e.log {
		if x == s {
			return i
		}
	}
	return -1
}

// stepGate records its start and end; it ends only once release is
// closed, so a test decides the order in which gates finish.
type stepGate struct {
	name    string
	source  bool
	ev      *events
	release chan struct{}
}

func (g stepGate) Name() string { return g.name }
func (g stepGate) Check(_ context.Context, img v1.Image) ([]report.Result, error) {
	arch := "source"
	if !g.source {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		arch = cf.Architecture
	}
	g.ev.add(fmt.Sprintf("%s %s start", g.name, arch))
	<-g.release
	g.ev.add(fmt.Sprintf("%s %s end", g.name, arch))
	return []report.Result{{Gate: g.name, ID: g.name + "/x", Status: report.Pass, Message: arch}}, nil
}

type sourceStepGate struct{ stepGate }

func (sourceStepGate) SourceOnly() {}

// The pipeline starts each image's gates when it is built, the source
// gates once, after the first build; one platform's gates at a time; and
// the report keeps the gates' order whatever order they finished in.
func TestBuildAndGateOrder(t *testing.T) {
	ev := newEvents()
	closed := make(chan struct{})
	close(closed)
	last := make(chan struct{}) // the first gate finishes last
	first := stepGate{name: "first", ev: ev, release: last}
	src := sourceStepGate{stepGate{name: "lint", source: true, ev: ev, release: closed}}
	third := stepGate{name: "third", ev: ev, release: closed}
	go func() {
		// "first" on amd64 ends only once "third" has ended there.
		ev.wait("third amd64 end")
		close(last)
	}()
	build := func(_ context.Context, p recipe.Platform) (v1.Image, error) {
		ev.add("build " + p.Arch + " start")
		defer ev.add("build " + p.Arch + " end")
		cf, err := empty.Image.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = p.OS, p.Arch
		return mutate.ConfigFile(empty.Image, cf)
	}
	r := Request{Platforms: platforms(t, "linux/amd64,linux/arm64"), Build: build, Gates: []gates.Gate{first, src, third}}
	res := &Result{Report: &report.Report{}}
	if err := buildAndGate(context.Background(), r, res, io.Discard); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range res.Report.Results {
		got = append(got, x.ID+"="+x.Message)
	}
	want := "first/x=linux/amd64: amd64 lint/x=source third/x=linux/amd64: amd64 first/x=linux/arm64: arm64 third/x=linux/arm64: arm64"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("report:\n got %s\nwant %s", s, want)
	}
	order := func(a, b string) {
		t.Helper()
		if i, j := ev.index(a), ev.index(b); i < 0 || j < 0 || i > j {
			t.Errorf("%q (%d) should come before %q (%d):\n%s", a, i, b, j, strings.Join(ev.log, "\n"))
		}
	}
	order("build amd64 end", "lint source start") // the lint reads the compile's build cache
	order("first amd64 end", "first arm64 start") // one platform's gates at a time
	order("third amd64 end", "first amd64 end")   // they finished out of order
	if n := strings.Count(strings.Join(ev.log, "\n"), "lint source start"); n != 1 {
		t.Errorf("the source gate ran %d times, want once", n)
	}
}
