package limits_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"dagger/go-image/internal/limits"
)

// endless streams bytes without end and counts them.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	e.n += int64(len(p))
	return len(p), nil
}

func TestReadAllReadsAtMostLimitPlusOne(t *testing.T) {
	for _, limit := range []int64{0, 1, 511, 4096, 1 << 20} {
		src := &endless{}
		b, err := limits.ReadAll(src, limit, limits.Manifest, "index.json")
		if !errors.Is(err, limits.ErrManifest) || b != nil {
			t.Fatalf("limit %d: %d bytes, err %v; want ErrManifest", limit, len(b), err)
		}
		if src.n > limit+1 {
			t.Errorf("limit %d: read %d bytes from the source", limit, src.n)
		}
	}
}

func TestReadAllWithinLimit(t *testing.T) {
	for _, n := range []int{0, 1, 100} {
		b, err := limits.ReadAll(strings.NewReader(strings.Repeat("x", n)), 100, limits.Config, "config")
		if err != nil || len(b) != n {
			t.Errorf("%d bytes under a limit of 100: got %d, %v", n, len(b), err)
		}
	}
}

func TestErrorsAreTheirKindOnly(t *testing.T) {
	err := fmt.Errorf("read: %w", limits.Check(10, 5, limits.Entries, "image"))
	if !errors.Is(err, limits.ErrEntries) || errors.Is(err, limits.ErrManifest) {
		t.Fatalf("errors.Is mismatch for %v", err)
	}
	if limits.Check(5, 5, limits.Entries, "image") != nil {
		t.Error("exactly the limit is refused")
	}
	if !limits.IsLimit(err) || limits.IsLimit(errors.New("x")) {
		t.Error("IsLimit")
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if got := limits.From(ctx); got != limits.Default() {
		t.Errorf("From(background) = %+v, want the defaults", got)
	}
	got := limits.From(limits.With(ctx, limits.Limits{Entries: 7}))
	want := limits.Default()
	want.Entries = 7
	if got != want {
		t.Errorf("With(Entries: 7) = %+v, want the defaults but Entries", got)
	}
}

func TestContextReaderStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := limits.ContextReader(ctx, &endless{})
	if _, err := r.Read(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func ExampleError() {
	fmt.Println(limits.Check(300_000, int64(limits.Default().Entries), limits.Entries, "image sha256:ab12"))
	_, err := limits.ReadAll(&endless{}, limits.Default().Manifest, limits.Manifest, "index.json")
	fmt.Println(err)
	// Output:
	// image sha256:ab12: 300000 entries, over the 200000 entries limit on files in the image's layers: go-image gates minimal service images: build on scratch or a smaller base
	// index.json: more than the 4 MiB limit on a manifest or index: this is not an image manifest any tool writes; rebuild or re-export the image
}
