package assemble

import (
	"crypto/rand"
	"io"
	"runtime"
	"testing"
	"time"

	"dagger/go-image/internal/recipe"
)

// A release reads the layer's compressed bytes several times (its digest,
// the size gate, the push, the tarball): they are compressed once. A gzip
// allocates its compressor's state (about a megabyte), a read of the kept
// bytes only a reader.
func TestLayerCompressesOnce(t *testing.T) {
	data := make([]byte, 4<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	l, err := Layer([]recipe.File{{Path: "/bin/x", Mode: 0o555, Data: data}}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	read := func() {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	read()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	read()
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
		t.Errorf("a second read of the compressed layer allocated %d bytes: it was compressed again", n)
	}
}
