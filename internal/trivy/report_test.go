package trivy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"dagger/go-image/internal/limits"
	"dagger/go-image/internal/trivy"
)

// TestReportIsBounded: how much Trivy says is the image's to decide (a
// base listing thousands of vulnerable packages makes the report as large
// as it likes), and go-image reads the report whole. A Trivy stand-in
// that writes a sparse 4 GiB report gets the named bound, before anything
// reads it; the heap stays small.
func TestReportIsBounded(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the stand-in is a shell script")
	}
	const huge = 4 << 30
	for _, tc := range []struct {
		name  string
		size  int64
		limit int64
		err   error
	}{
		{"a sparse 4 GiB report", huge, 0, limits.ErrToolOutput},
		{"one byte over a tightened bound", 1<<20 + 1, 1 << 20, limits.ErrToolOutput},
		{"at the bound", 1 << 20, 1 << 20, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "trivy")
			// Writes a report of the size asked at --output (sparse), and
			// says its version.
			script := fmt.Sprintf("#!/bin/sh\nout=\nwhile [ $# -gt 0 ]; do [ \"$1\" = --output ] && out=$2; shift; done\n"+
				"[ -n \"$out\" ] && truncate -s %d \"$out\"\necho 'Version: %s'\n", tc.size, trivy.PinnedVersion)
			if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			cache := filepath.Join(dir, "cache")
			if err := os.MkdirAll(filepath.Join(cache, "db"), 0o755); err != nil {
				t.Fatal(err)
			}
			meta := fmt.Sprintf(`{"Version":%d,"UpdatedAt":%q}`, trivy.DBSchemaVersion, time.Now().UTC().Format(time.RFC3339))
			for name, data := range map[string]string{"trivy.db": "db", "metadata.json": meta} {
				if err := os.WriteFile(filepath.Join(cache, "db", name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			img := filepath.Join(dir, "image.tar")
			if err := os.WriteFile(img, []byte("an image"), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.limit > 0 {
				ctx = limits.With(ctx, limits.Limits{ToolOutput: tc.limit})
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			out, err := (&trivy.Runner{Binary: bin, CacheDir: cache}).Scan(ctx, img)
			runtime.ReadMemStats(&after)
			if tc.err == nil {
				if err != nil || int64(len(out.JSON)) != tc.size {
					t.Fatalf("Scan = %d bytes, %v; want the %d-byte report", len(out.JSON), err, tc.size)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("Scan error = %v, want %v", err, tc.err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
				t.Errorf("refusing the report allocated %d MiB", grew>>20)
			}
		})
	}
}
