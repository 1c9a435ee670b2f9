package gates

import (
	"context"
	"errors"
	"testing"

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
