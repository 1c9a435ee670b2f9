package size_test

import (
	"context"
	"io"
	"math/rand"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/imagetest"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/size"
)

var _ gates.Gate = size.Gate{}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"25MB", 25_000_000},
		{"25 MB", 25_000_000},
		{"25mb", 25_000_000},
		{"300kB", 300_000},
		{"300KB", 300_000},
		{"1.5GB", 1_500_000_000},
		{"2GiB", 2 << 30},
		{"10MiB", 10 << 20},
		{"4KiB", 4096},
		{"1048576", 1 << 20},
		{"512B", 512},
		{" 7 MB ", 7_000_000},
	}
	for _, tt := range tests {
		got, err := size.ParseBytes(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "MB", "25M", "25 megabytes", "-5MB", "0MB", "25MBs", "1e3MB", "ten MB", ".MB", "25TB", "1.2.3MB"} {
		_, err := size.ParseBytes(bad)
		if err == nil {
			t.Errorf("ParseBytes(%q) accepted junk", bad)
		} else if !strings.Contains(err.Error(), "e.g. 25MB") {
			t.Errorf("ParseBytes(%q) error %q does not show an example", bad, err)
		}
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(1)).Read(b)
	return b
}

func TestMeasure(t *testing.T) {
	img := imagetest.Append(t, empty.Image,
		imagetest.File{Path: "/small", Mode: 0o644, Data: []byte("hi")},
		imagetest.File{Path: "/big", Mode: 0o644, Data: random(300_000)},
	)
	// A file deleted by an upper layer is still stored: it must still count.
	img = imagetest.Append(t, img,
		imagetest.File{Path: "/.wh.big"},
		imagetest.File{Path: "/mid", Mode: 0o644, Data: random(50_000)},
	)
	m, err := size.Measure(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	cfg, _ := img.RawConfigFile()
	layers, _ := img.Layers()
	want := int64(len(raw) + len(cfg))
	var wantU int64
	for _, l := range layers {
		n, _ := l.Size()
		want += n
		rc, _ := l.Uncompressed()
		u, _ := io.Copy(io.Discard, rc)
		rc.Close()
		wantU += u
	}
	if m.Compressed != want || m.Uncompressed != wantU {
		t.Errorf("Measure = %d compressed / %d uncompressed, want %d / %d", m.Compressed, m.Uncompressed, want, wantU)
	}
	if len(m.Layers) != 2 || !strings.HasPrefix(m.Layers[1].CreatedBy, "imagetest: /.wh.big") {
		t.Errorf("layers = %+v, want 2 with history", m.Layers)
	}
	var got []string
	for _, f := range m.Largest {
		got = append(got, f.Path)
	}
	if strings.Join(got, " ") != "/big /mid /small /.wh.big" {
		t.Errorf("largest = %v, want /big /mid /small /.wh.big", got)
	}
}

func TestGate(t *testing.T) {
	compliant := imagetest.Compliant(t)
	m, err := size.Measure(context.Background(), compliant)
	if err != nil {
		t.Fatal(err)
	}
	oversize := imagetest.Append(t, compliant, imagetest.File{Path: "/data/blob.bin", Mode: 0o644, Data: random(2_000_000)})
	tests := []struct {
		name    string
		img     v1.Image
		max     int64
		status  report.Status
		message string
	}{
		{"compliant within default budget", compliant, 0, report.Pass, "within the 25.0 MB budget"},
		{"budget is inclusive", compliant, m.Compressed, report.Pass, "within"},
		{"one byte over", compliant, m.Compressed - 1, report.Fail, "over the"},
		{"oversize names the largest file", oversize, m.Compressed + 1_000_000, report.Fail, "largest: " + imagetest.ServicePath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := size.Gate{Max: tt.max}.Check(context.Background(), tt.img)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 || rs[0].ID != size.ID {
				t.Fatalf("results = %+v, want one %s", rs, size.ID)
			}
			r := rs[0]
			if r.Status != tt.status || !strings.Contains(r.Message, tt.message) {
				t.Errorf("got %s %q, want %s containing %q", r.Status, r.Message, tt.status, tt.message)
			}
			d := strings.Join(r.Details, "\n")
			wantDetails := []string{"layers (", "sha256:", "largest files", imagetest.ServicePath, "go-image: /usr/local/bin/service"}
			if tt.img == oversize {
				wantDetails = append(wantDetails, "/data/blob.bin", "imagetest: /data/blob.bin")
			}
			for _, want := range wantDetails {
				if !strings.Contains(d, want) {
					t.Errorf("details lack %q:\n%s", want, d)
				}
			}
			if r.Metrics["compressed_bytes"] <= 0 || r.Metrics["uncompressed_bytes"] < r.Metrics["compressed_bytes"]/2 {
				t.Errorf("metrics = %v", r.Metrics)
			}
		})
	}
}
