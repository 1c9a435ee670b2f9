package harden_test

import (
	"context"
	"strings"
	"testing"

	"dagger/go-image/internal/harden"
	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/limits"
	"dagger/go-image/internal/report"
)

// TestHugeEntrypoint: an entrypoint over the kept-file limit
// (limits.Kept, tightened here to 1 MiB for an 8 MiB file) is never read
// into memory; the checks that parse it fail, naming the limit.
func TestHugeEntrypoint(t *testing.T) {
	ctx := limits.With(context.Background(), limits.Limits{Kept: 1 << 20})
	res, err := harden.New(harden.Options{}).Check(ctx, hostile.HugeFile(t, 8<<20))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.ID == harden.StaticBinary && (r.Status != report.Fail || !strings.Contains(r.Message, "over the 1 MiB limit")) {
			t.Errorf("%s: %s %q, want a failure naming the limit", r.ID, r.Status, r.Message)
		}
	}
}
