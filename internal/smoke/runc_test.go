package smoke

import (
	"context"
	"strings"
	"testing"

	"dagger/go-image/internal/report"
)

func TestRuncRunner(t *testing.T) {
	t.Parallel()
	if why := RuncAvailable(); why != "" {
		t.Skip("SKIPPED: " + why)
	}
	tests := []struct {
		dir  string
		fail []string
	}{
		{"service", nil},
		{"k8s/no-sigterm", []string{"sigterm-drain", "sigterm-readiness", "sigterm-exit"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			img := image(t, tt.dir)
			t.Parallel()
			rs, err := Gate{Runner: RuncRunner{}, Config: DefaultConfig()}.Check(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			got := statuses(rs)
			for _, r := range rs {
				t.Logf("[%s] %s: %s %v %v", r.Status, r.ID, r.Message, r.Metrics, r.Details)
			}
			for _, id := range allChecks {
				want := report.Pass
				for _, f := range tt.fail {
					if f == id {
						want = report.Fail
					}
				}
				if got["smoke/"+id] != want {
					t.Errorf("%s = %q, want %q", id, got["smoke/"+id], want)
				}
			}
			if !strings.Contains(strings.Join(rs[0].Details, " "), "runner: runc") {
				t.Errorf("report does not name the runc runner: %v", rs[0].Details)
			}
		})
	}
}
