package gates

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"

	"dagger/go-image/internal/report"
)

type fakeGate struct {
	name string
	res  []report.Result
	err  error
}

func (f fakeGate) Name() string { return f.name }
func (f fakeGate) Check(context.Context, v1.Image) ([]report.Result, error) {
	return f.res, f.err
}

func TestRun(t *testing.T) {
	pass := fakeGate{name: "size", res: []report.Result{{Gate: "size", ID: "size/compressed", Status: report.Pass}}}
	broken := fakeGate{name: "scan", err: errors.New("no database")}
	failing := fakeGate{name: "upx", res: []report.Result{{Gate: "upx", ID: "upx/packed", Status: report.Fail}}}
	tests := []struct {
		name      string
		gates     []Gate
		wantIDs   []string
		wantFails int
	}{
		{"all pass", []Gate{pass}, []string{"size/compressed"}, 0},
		{"an erroring gate fails, never passes", []Gate{pass, broken}, []string{"size/compressed", "scan/error"}, 1},
		{"later gates still run after a failure", []Gate{failing, pass}, []string{"upx/packed", "size/compressed"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Run(context.Background(), empty.Image, tt.gates...)
			var ids []string
			for _, res := range r.Results {
				ids = append(ids, res.ID)
			}
			if len(ids) != len(tt.wantIDs) {
				t.Fatalf("ids = %v, want %v", ids, tt.wantIDs)
			}
			for i := range ids {
				if ids[i] != tt.wantIDs[i] {
					t.Fatalf("ids = %v, want %v", ids, tt.wantIDs)
				}
			}
			if got := len(r.Failed()); got != tt.wantFails {
				t.Errorf("failed = %d, want %d", got, tt.wantFails)
			}
			if (r.Err() != nil) != (tt.wantFails > 0) {
				t.Errorf("Err() = %v with %d failures", r.Err(), tt.wantFails)
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := Run(ctx, empty.Image, fakeGate{name: "size", res: []report.Result{{Status: report.Pass}}})
	if len(r.Failed()) != 1 {
		t.Fatalf("a cancelled run must fail, got %+v", r.Results)
	}
}

type fakeSourceGate struct{ fakeGate }

func (fakeSourceGate) SourceOnly() {}

func TestImageGates(t *testing.T) {
	size, lint, smoke := fakeGate{name: "size"}, fakeSourceGate{fakeGate{name: "lint"}}, fakeGate{name: "smoke"}
	got := ImageGates([]Gate{size, lint, smoke})
	if len(got) != 2 || got[0].Name() != "size" || got[1].Name() != "smoke" {
		var names []string
		for _, g := range got {
			names = append(names, g.Name())
		}
		t.Fatalf("ImageGates = %v, want [size smoke] in order", names)
	}
}

type panicGate struct {
	name string
	v    any
}

func (p panicGate) Name() string { return p.name }
func (p panicGate) Check(context.Context, v1.Image) ([]report.Result, error) {
	if s, ok := p.v.(string); ok && s == "index" {
		var b []byte
		_ = b[5] // a runtime error, as a bad ELF offset gives
	}
	panic(p.v)
}

// A gate that panics fails with the panic's cause; the gates after it still
// run and the report is complete.
func TestRunRecoversPanics(t *testing.T) {
	pass := fakeGate{name: "size", res: []report.Result{{Gate: "size", ID: "size/compressed", Status: report.Pass}}}
	for _, tc := range []struct {
		name    string
		gate    Gate
		wantID  string
		wantMsg string
	}{
		{"runtime error", panicGate{"upx", "index"}, "upx/panic", "index out of range [5] with length 0"},
		{"panic with a value", panicGate{"harden", "boom"}, "harden/panic", "panic: boom"},
		{"panic with an error", panicGate{"scan", errors.New("nil map")}, "scan/panic", "panic: nil map"},
		{"nil gate", nil, "gate/panic", "nil pointer dereference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Run(context.Background(), empty.Image, pass, tc.gate, pass)
			if len(r.Results) != 3 {
				t.Fatalf("results = %+v, want 3: the gates after a panic must still run", r.Results)
			}
			got := r.Results[1]
			if got.ID != tc.wantID || got.Status != report.Fail || !strings.Contains(got.Message, tc.wantMsg) {
				t.Fatalf("result = %+v, want a failed %s naming %q", got, tc.wantID, tc.wantMsg)
			}
			if r.Results[0].Status != report.Pass || r.Results[2].Status != report.Pass {
				t.Errorf("neighbours changed: %+v", r.Results)
			}
			if tc.gate != nil && (len(got.Details) == 0 || !strings.Contains(strings.Join(got.Details, "\n"), "gates.panicGate.Check")) {
				t.Errorf("details do not show where it panicked: %q", got.Details)
			}
			if len(got.Details) > maxStack+1 {
				t.Errorf("%d stack lines, want at most %d", len(got.Details), maxStack+1)
			}
			if r.Err() == nil {
				t.Error("a report with a panicked gate passes")
			}
		})
	}
}

func TestProtect(t *testing.T) {
	res, err := Protect("scan", func() ([]report.Result, error) { panic("bad JSON") })
	if err != nil || len(res) != 1 || res[0].ID != "scan/panic" || res[0].Status != report.Fail {
		t.Fatalf("Protect = %+v, %v", res, err)
	}
	want := errors.New("no DB")
	if _, err := Protect("scan", func() ([]report.Result, error) { return nil, want }); err != want {
		t.Fatalf("Protect changed the error: %v", err)
	}
}

// funcGate runs fn as its check.
type funcGate struct {
	name string
	fn   func(ctx context.Context) ([]report.Result, error)
}

func (f funcGate) Name() string { return f.name }
func (f funcGate) Check(ctx context.Context, _ v1.Image) ([]report.Result, error) {
	return f.fn(ctx)
}

// The gates run side by side: each of these waits until all have started,
// which gates run one after the other never reach.
func TestRunSideBySide(t *testing.T) {
	const n = 4
	started := make(chan struct{}, n)
	all := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			<-started
		}
		close(all)
	}()
	var gs []Gate
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("g%d", i)
		gs = append(gs, funcGate{name, func(ctx context.Context) ([]report.Result, error) {
			started <- struct{}{}
			select {
			case <-all:
				return []report.Result{{Gate: name, ID: name, Status: report.Pass}}, nil
			case <-time.After(10 * time.Second):
				return nil, errors.New("the other gates never started: the gates ran one after the other")
			}
		}})
	}
	r := Run(context.Background(), empty.Image, gs...)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}

// The report keeps the gates' order, whatever order they finish in: here
// the last gate finishes first and the first last.
func TestRunKeepsOrder(t *testing.T) {
	const n = 5
	turn := make([]chan struct{}, n+1)
	for i := range turn {
		turn[i] = make(chan struct{})
	}
	var gs []Gate
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("g%d", i)
		me, next := turn[n-1-i], turn[n-i]
		gs = append(gs, funcGate{name, func(context.Context) ([]report.Result, error) {
			<-me
			defer close(next)
			return []report.Result{{Gate: name, ID: name + "/a", Status: report.Pass}, {Gate: name, ID: name + "/b", Status: report.Pass}}, nil
		}})
	}
	close(turn[0])
	var ids []string
	for _, res := range Run(context.Background(), empty.Image, gs...).Results {
		ids = append(ids, res.ID)
	}
	want := "g0/a g0/b g1/a g1/b g2/a g2/b g3/a g3/b g4/a g4/b"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("report order %s, want %s", got, want)
	}
}
