package smoke

import (
	"context"
	"strings"
	"testing"
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
			for _, r := range rs {
				t.Logf("[%s] %s: %s %v %v", r.Status, r.ID, r.Message, r.Metrics, r.Details)
			}
			wantStatuses(t, rs, tt.fail)
			if !strings.Contains(strings.Join(rs[0].Details, " "), "runner: runc") {
				t.Errorf("report does not name the runc runner: %v", rs[0].Details)
			}
		})
	}
}
