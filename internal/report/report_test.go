package report

import "testing"

func TestFormatMetrics(t *testing.T) {
	for _, tc := range []struct {
		m    map[string]float64
		want string
	}{
		{map[string]float64{"compressed_bytes": 5591090, "max_bytes": 25e6},
			"compressed_bytes=5591090 B (5.59 MB) max_bytes=25000000 B (25 MB)"},
		{map[string]float64{"layer_bytes": 512}, "layer_bytes=512 B"},
		{map[string]float64{"startup_seconds": 0.052, "findings": 3}, "findings=3 startup_seconds=0.052 s"},
		{map[string]float64{"db_age_hours": 30}, "db_age_hours=30 h"},
		{map[string]float64{"huge_bytes": 1.5e12}, "huge_bytes=1500000000000 B (1.5 TB)"},
	} {
		if got := formatMetrics(tc.m); got != tc.want {
			t.Errorf("formatMetrics(%v) =\n  %s\nwant\n  %s", tc.m, got, tc.want)
		}
	}
}
