package timing

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when told, so spans have exact lengths.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newFake() (*Recorder, *fakeClock) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	return &Recorder{t0: c.t, now: c.now}, c
}

func ExampleRecorder_Write() {
	r, clock := newFake()
	ctx := With(context.Background(), r)
	build := Start(ctx, "build linux/amd64")
	clock.advance(120 * time.Millisecond)
	compile := Start(ctx, "compile: go build")
	clock.advance(400 * time.Millisecond)
	compile()
	build()
	// Two gates side by side: both start at 0.520 s.
	lint, smoke := Start(ctx, "gate lint"), Start(ctx, "gate smoke")
	clock.advance(180 * time.Millisecond)
	lint()
	clock.advance(time.Second)
	smoke()
	_ = r.Write(os.Stdout)
	// Output:
	// go-image: timings: 1.700 s in all (seconds since the start; stages that overlap ran side by side)
	//     start    took  stage
	//     0.000   0.520  build linux/amd64
	//     0.120   0.400  compile: go build
	//     0.520   1.180  gate smoke
	//     0.520   0.180  gate lint
}

func TestNoRecorderRecordsNothing(t *testing.T) {
	end := Start(context.Background(), "gate size")
	end()
	if r := From(context.Background()); r != nil {
		t.Fatalf("From(background) = %v, want nil", r)
	}
	var r *Recorder
	r.Start("x")()
	if got := r.Spans(); got != nil {
		t.Errorf("nil recorder spans = %v, want none", got)
	}
}

func TestEndTwiceRecordsOnce(t *testing.T) {
	r, clock := newFake()
	end := r.Start("push")
	clock.advance(time.Second)
	end()
	clock.advance(time.Second)
	end()
	spans := r.Spans()
	if len(spans) != 1 || spans[0].Took() != time.Second {
		t.Fatalf("spans = %+v, want one of 1s", spans)
	}
}

func TestConcurrentSpans(t *testing.T) {
	r := New()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Start("gate")()
		}()
	}
	wg.Wait()
	if n := len(r.Spans()); n != 50 {
		t.Fatalf("%d spans, want 50", n)
	}
}

// A stage's name can quote what the user or an image chose (a platform, a
// gate's name): it cannot start a line of its own or repaint the table.
func TestHostileNameIsEscaped(t *testing.T) {
	r, _ := newFake()
	r.Start("gate x\n    0.000   9.999  push\x1b[2K")()
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (header, columns, one span):\n%s", len(lines), b.String())
	}
	if strings.ContainsAny(lines[2], "\n\x1b") || !strings.Contains(lines[2], `\n`) || !strings.Contains(lines[2], `\x1b`) {
		t.Errorf("span line not escaped: %q", lines[2])
	}
}
