package imagefs_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/blob"
	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/limits"
)

var raceEnabled bool

// walked is what Walk yielded: entries in order and the regular files'
// contents.
type walked struct {
	entries  []imagefs.Entry
	contents map[string]string
}

func walk(ctx context.Context, img v1.Image) (walked, error) {
	w := walked{contents: map[string]string{}}
	err := imagefs.Walk(ctx, img, func(e imagefs.Entry, r io.Reader) error {
		w.entries = append(w.entries, e)
		if e.Regular() {
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			w.contents[e.Path] = string(b)
		}
		return nil
	})
	return w, err
}

// TestHostileImages: every crafted image of issue 14 that a reader of
// layers must handle gets its verdict from both Walk and Read: refused
// with its named check, or read as a runtime reads it.
func TestHostileImages(t *testing.T) {
	tests := []struct {
		name string
		img  v1.Image
		want error // nil: accepted
	}{
		{"path twice in a layer", hostile.DuplicatePaths(t), imagefs.ErrDuplicate},
		{"whiteout then the file, one layer", hostile.SameLayerWhiteout(t), imagefs.ErrWhiteout},
		{"the file then its whiteout, one layer", hostile.SameLayerWhiteoutAfter(t), imagefs.ErrWhiteout},
		{"s -> host dir, then s/pwned", hostile.SymlinkEscape(t, "/tmp/host"), imagefs.ErrParent},
		{"hard link to s/victim", hostile.HardlinkEscape(t, "/tmp/host"), imagefs.ErrHardlink},
		{"../ name", hostile.DotDotName(t), imagefs.ErrEscape},
		{"hard link to ../../etc/passwd", hostile.DotDotLink(t), imagefs.ErrEscape},
		{"sparse 1 GiB file", hostile.Image(t, hostile.SparseLayer("big", 1<<30)), imagefs.ErrEntryType},
		{"opaque marker after an entry deeper in its directory", hostile.OpaqueAfterDeepEntry(t), imagefs.ErrOpaque},
		{"hard link adding file capabilities", hostile.HardlinkAddsCapabilities(t), imagefs.ErrHardlinkMeta},
		{"file capabilities", hostile.FileCapabilities(t), nil},
		{"trusted.overlay.opaque xattr", hostile.OverlayOpaqueXattr(t), imagefs.ErrEntryType},
		{"opaque directory", hostile.OpaqueDir(t), nil},
		{"forged names", hostile.ForgedNames(t), nil},
		{"real shapes", hostile.RealShapes(t), nil},
		{"huge e_phoff ELF", hostile.HugePhoff(t), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			start := time.Now()
			_, werr := walk(ctx, tt.img)
			_, rerr := imagefs.Read(ctx, tt.img, nil, 0)
			for name, err := range map[string]error{"Walk": werr, "Read": rerr} {
				if tt.want == nil && err != nil {
					t.Errorf("%s: %v, want the image read", name, err)
				}
				if tt.want != nil && (!errors.Is(err, tt.want) || !errors.Is(err, imagefs.ErrRefused)) {
					t.Errorf("%s: err = %v, want %v", name, err, tt.want)
				}
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s", d)
			}
			if werr != nil {
				t.Log(werr)
			}
		})
	}
}

func TestOpaqueDirectory(t *testing.T) {
	w, err := walk(context.Background(), hostile.OpaqueDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.contents["/etc/app/old"]; ok {
		t.Error("/etc/app/old is under an opaque directory but is listed")
	}
	if w.contents["/etc/app/new"] != "new" {
		t.Errorf("/etc/app/new = %q", w.contents["/etc/app/new"])
	}
}

// TestFileCapabilitiesAreRead: a file capability (the security.capability
// xattr in a PAX record) is what a runtime sets: the entry says so, and a
// hard link to the file too.
func TestFileCapabilitiesAreRead(t *testing.T) {
	f, err := imagefs.Read(context.Background(), hostile.FileCapabilities(t), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{"/usr/bin/esc": true, hostile.Entrypoint: false} {
		if e, ok := f.Lookup(p); !ok || e.Capabilities != want {
			t.Errorf("%s: %+v, want Capabilities %v", p, e, want)
		}
	}
}

// TestForgedNamesAreKeptExactly: names are the image's, byte for byte;
// escaping them is the reports' job, and they need the real name.
func TestForgedNamesAreKeptExactly(t *testing.T) {
	f, err := imagefs.Read(context.Background(), hostile.ForgedNames(t), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{hostile.ANSIName, strings.TrimSuffix(hostile.MarkdownName, "\n"), hostile.HTMLName} {
		// path.Clean drops a trailing newline's slash, never the newline.
		if _, ok := f.Lookup("/" + n); !ok {
			if _, ok := f.Lookup("/" + n + "\n"); !ok {
				t.Errorf("%q not found", n)
			}
		}
	}
}

// TestRealShapes: the layer shapes BuildKit, Dagger and docker write, read
// as a runtime reads them.
func TestRealShapes(t *testing.T) {
	ctx := context.Background()
	img := hostile.RealShapes(t)
	w, err := walk(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	f, err := imagefs.Read(ctx, img, func(e imagefs.Entry) bool { return true }, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The upgrade replaced /bin/busybox; the hard links kept the first file.
	for p, want := range map[string]string{"/bin/busybox": "busybox v2", "/bin/sh": "busybox v1", "/usr/bin/sh2": "busybox v1"} {
		b, err := f.ReadFile(ctx, p)
		if err != nil || string(b) != want {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", p, b, err, want)
		}
	}
	// Walk: each path once, every hard link after the file it names, the
	// files' contents as a runtime has them.
	seen := map[string]imagefs.Entry{}
	for _, e := range w.entries {
		if _, dup := seen[e.Path]; dup {
			t.Errorf("%s yielded twice", e.Path)
		}
		if e.Type == tar.TypeLink {
			target, ok := seen[e.Linkname]
			if !ok || !target.Regular() {
				t.Errorf("hard link %s -> %s yielded before its file", e.Path, e.Linkname)
			}
			if w.contents[e.Linkname] != "busybox v1" {
				t.Errorf("hard link %s -> %s: the file holds %q, want busybox v1", e.Path, e.Linkname, w.contents[e.Linkname])
			}
		}
		seen[e.Path] = e
	}
	if w.contents["/bin/busybox"] != "busybox v2" || w.contents["/usr/local/bin/app"] != "app" {
		t.Errorf("contents = %q", w.contents)
	}
	if root, ok := seen["/"]; !ok || !root.Dir() {
		t.Error(`the root ("./") was not yielded`)
	}
	if _, ok := seen["/usr/local"]; ok {
		t.Error("/usr/local, implied only, was yielded")
	}
	// Walk and Read see one filesystem.
	if len(seen) != len(f.Entries()) {
		t.Errorf("Walk yielded %d entries, Read indexed %d", len(seen), len(f.Entries()))
	}
	for _, e := range f.Entries() {
		if seen[e.Path] != e {
			t.Errorf("%s: Walk %+v, Read %+v", e.Path, seen[e.Path], e)
		}
	}
	// Resolving through the implied parents and the links.
	e, err := f.Resolve("/usr/bin/sh2")
	if err != nil || !e.Regular() {
		t.Errorf("Resolve(/usr/bin/sh2) = %+v, %v", e, err)
	}
}

// TestRefusals: each rule of the applier beyond the hostile corpus.
func TestRefusals(t *testing.T) {
	base := hostile.Layer(hostile.Dir("d/", 0o755), hostile.File("d/f", 0o644, "lower"), hostile.File("app", 0o555, "app"))
	tests := []struct {
		name   string
		layers []v1.Layer
		want   error
	}{
		{"implied directory, then a file of its name", []v1.Layer{hostile.Layer(hostile.File("a/b", 0o644, "x"), hostile.Symlink("a", "/etc"))}, imagefs.ErrDuplicate},
		{"directory twice, differently", []v1.Layer{hostile.Layer(hostile.Dir("a/", 0o755), hostile.Dir("a/", 0o777))}, imagefs.ErrDuplicate},
		{"directory twice, identically", []v1.Layer{hostile.Layer(hostile.Dir("a/", 0o755), hostile.Dir("./a", 0o755))}, nil},
		{"same path, two spellings", []v1.Layer{hostile.Layer(hostile.File("a", 0o644, "1"), hostile.File("./a", 0o644, "2"))}, imagefs.ErrDuplicate},
		{"whiteout twice", []v1.Layer{base, hostile.Layer(hostile.Whiteout("d", "f"), hostile.Whiteout("d", "f"))}, imagefs.ErrDuplicate},
		{"whiteout of a lower file", []v1.Layer{base, hostile.Layer(hostile.Whiteout("d", "f"))}, nil},
		{"whiteout of nothing", []v1.Layer{base, hostile.Layer(hostile.Whiteout("d", "nothing"))}, nil},
		{"entry below a whiteout of its parent", []v1.Layer{base, hostile.Layer(hostile.Whiteout("", "d"), hostile.File("d/g", 0o644, "x"))}, imagefs.ErrWhiteout},
		{"whiteout of a parent the layer adds to", []v1.Layer{base, hostile.Layer(hostile.File("d/g", 0o644, "x"), hostile.Whiteout("", "d"))}, imagefs.ErrWhiteout},
		{"file over a directory the layer adds to", []v1.Layer{base, hostile.Layer(hostile.File("d/g", 0o644, "x"), hostile.File("d", 0o644, "x"))}, imagefs.ErrDuplicate},
		{"opaque marker first", []v1.Layer{base, hostile.Layer(hostile.Dir("d/", 0o755), hostile.Opaque("d"), hostile.File("d/g", 0o644, "x"))}, nil},
		{"opaque marker after the directory's entries", []v1.Layer{base, hostile.Layer(hostile.File("d/g", 0o644, "x"), hostile.Opaque("d"))}, imagefs.ErrOpaque},
		{"entry below a lower symlink", []v1.Layer{hostile.Layer(hostile.Symlink("s", "/etc")), hostile.Layer(hostile.File("s/passwd", 0o644, "x"))}, imagefs.ErrParent},
		{"entry below a lower file", []v1.Layer{base, hostile.Layer(hostile.File("app/x", 0o644, "x"))}, imagefs.ErrParent},
		{"hard link to a directory", []v1.Layer{base, hostile.Layer(hostile.Hardlink("h", "d", 0o755))}, imagefs.ErrHardlink},
		{"hard link to nothing", []v1.Layer{base, hostile.Layer(hostile.Hardlink("h", "nothing", 0o644))}, imagefs.ErrHardlink},
		{"hard link to a later file", []v1.Layer{hostile.Layer(hostile.Hardlink("h", "f", 0o644), hostile.File("f", 0o644, "x"))}, imagefs.ErrHardlink},
		{"hard link to itself", []v1.Layer{base, hostile.Layer(hostile.Hardlink("app", "app", 0o555))}, imagefs.ErrHardlink},
		{"hard link with another mode", []v1.Layer{base, hostile.Layer(hostile.Hardlink("h", "app", 0o4755))}, imagefs.ErrHardlinkMeta},
		{"hard link with another owner", []v1.Layer{base, hostile.Layer(hostile.Entry{Name: "h", Type: tar.TypeLink, Linkname: "app", Mode: 0o555, UID: 1})}, imagefs.ErrHardlinkMeta},
		{"hard link across layers", []v1.Layer{base, hostile.Layer(hostile.Hardlink("h", "/d/f", 0o644))}, nil},
		{"hard link to the root", []v1.Layer{base, hostile.Layer(hostile.Hardlink("h", "./", 0o755))}, imagefs.ErrHardlink},
		{"root as a file", []v1.Layer{hostile.Layer(hostile.File(".", 0o644, ""))}, imagefs.ErrEntryType},
		{"contiguous file type", []v1.Layer{hostile.Layer(hostile.Entry{Name: "c", Type: tar.TypeCont})}, imagefs.ErrEntryType},
		{"malformed whiteout", []v1.Layer{base, hostile.Layer(hostile.Entry{Name: "d/.wh."})}, imagefs.ErrEntryType},
		{"devices and FIFOs", []v1.Layer{hostile.Layer(hostile.Entry{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666}, hostile.Entry{Name: "fifo", Type: tar.TypeFifo})}, nil},
		{"global header", []v1.Layer{hostile.Layer(hostile.Entry{Name: "pax_global_header", Type: tar.TypeXGlobalHeader}, hostile.File("a", 0o644, "a"))}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := hostile.Image(t, tt.layers...)
			_, werr := walk(context.Background(), img)
			_, rerr := imagefs.Read(context.Background(), img, nil, 0)
			for name, err := range map[string]error{"Walk": werr, "Read": rerr} {
				if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("%s: err = %v, want %v", name, err, tt.want)
				}
			}
		})
	}
}

// TestHardLinkSurvivesItsPath: a hard link keeps the file it was made
// to, even when that path is later deleted: the file is yielded at the
// link's path, with the first file's contents.
func TestHardLinkSurvivesItsPath(t *testing.T) {
	img := hostile.Image(t,
		hostile.Layer(hostile.Entry{Name: "bin/tool", Mode: 0o4755, Data: []byte("setuid tool")}, hostile.Hardlink("opt/keep", "bin/tool", 0o4755)),
		hostile.Layer(hostile.Whiteout("bin", "tool")),
	)
	w, err := walk(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.entries) != 1 {
		t.Fatalf("entries = %+v, want /opt/keep alone", w.entries)
	}
	e := w.entries[0]
	if e.Path != "/opt/keep" || !e.Regular() || e.Mode.Perm() != 0o755 || e.Mode&0o4000 == 0 && e.Mode.String()[0] != 'u' || w.contents["/opt/keep"] != "setuid tool" {
		t.Errorf("entry %+v mode %s, contents %q", e, e.Mode, w.contents["/opt/keep"])
	}
}

// countingLayer counts the bytes its layer's readers yield.
type countingLayer struct {
	v1.Layer
	n *atomic.Int64
}

func (c countingLayer) Uncompressed() (io.ReadCloser, error) {
	rc, err := c.Layer.Uncompressed()
	if err != nil {
		return nil, err
	}
	return countingReader{rc, c.n}, nil
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestManyFiles: issue 14's 500k empty files end at the entry limit, with
// the named error, having read no more of the layer than the limit's
// worth of headers.
func TestManyFiles(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files int
		lim   limits.Limits
	}{
		{"tightened limit", 2000, limits.Limits{Entries: 1000}},
		{"default limit, issue 14's count", 500_000, limits.Default()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if testing.Short() && tt.files > 10000 {
				t.Skip("SKIP in -short: 500k files take a second")
			}
			var n atomic.Int64
			img := hostile.Image(t, countingLayer{hostile.ManyFiles(tt.files), &n})
			ctx := limits.With(context.Background(), tt.lim)
			start := time.Now()
			_, err := imagefs.Read(ctx, img, nil, 0)
			if !errors.Is(err, limits.ErrEntries) {
				t.Fatalf("err = %v, want ErrEntries", err)
			}
			// One 512-byte header per file; the layer reader reads at most
			// 640 KiB ahead, and a pipe buffer more.
			if max := int64(tt.lim.Entries+2)*512 + 1<<20; n.Load() > max {
				t.Errorf("read %d bytes of the layer, want at most %d", n.Load(), max)
			}
			t.Logf("%s, %d bytes read: %v", time.Since(start), n.Load(), err)
		})
	}
}

// TestLongNames: the entry limit bounds how many names a reader keeps,
// the names limit what they weigh: 20,000 names of 4000 bytes (a tenth of
// the entry limit, each within PATH_MAX) held 111 MiB before it, and the
// entry limit's worth over a gigabyte. They end at the limit, with the
// named error, the heap never far above the limit.
func TestLongNames(t *testing.T) {
	for _, tt := range []struct {
		name    string
		n, size int
		lim     limits.Limits
		maxHeap uint64
	}{
		// 80 MB of names: held whole, the heap grew by over 250 MiB.
		{"tightened limit", 20_000, 4000, limits.Limits{Names: 8 << 20}, 64 << 20},
		{"default limit", 20_000, 4000, limits.Default(), 384 << 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img := hostile.Image(t, hostile.LongNames(tt.n, tt.size))
			ctx := limits.With(context.Background(), tt.lim)
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			peak := peakHeap(t)
			start := time.Now()
			f, err := imagefs.Read(ctx, img, nil, 0)
			if !errors.Is(err, limits.ErrNames) || f != nil {
				t.Fatalf("err = %v, want ErrNames", err)
			}
			if grew := peak() - min(peak(), base.HeapAlloc); grew > tt.maxHeap {
				t.Errorf("the heap grew by %d MiB, want at most %d MiB", grew>>20, tt.maxHeap>>20)
			}
			t.Logf("%s: %v", time.Since(start), err)
		})
	}
}

// peakHeap samples the heap until the test ends; the function it returns
// is the highest HeapAlloc seen so far.
func peakHeap(t *testing.T) func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { close(done); <-stopped })
	return peak.Load
}

// TestKeptFileLimit: a kept file over the limit is never read into memory,
// and asking for it is the named error.
func TestKeptFileLimit(t *testing.T) {
	ctx := limits.With(context.Background(), limits.Limits{Kept: 1 << 20})
	img := hostile.HugeFile(t, 8<<20)
	f, err := imagefs.Read(ctx, img, func(e imagefs.Entry) bool { return e.Path == hostile.Entrypoint }, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.ReadFile(ctx, hostile.Entrypoint)
	var le *limits.Error
	if !errors.Is(err, limits.ErrKept) || !errors.As(err, &le) || le.Limit != 1<<20 || le.Got != 8<<20 {
		t.Fatalf("err = %v, want ErrKept with the limit and the size", err)
	}
	// A caller's own limit is capped by the context's.
	f, err = imagefs.Read(ctx, img, func(e imagefs.Entry) bool { return true }, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFile(ctx, hostile.Entrypoint); !errors.Is(err, limits.ErrKept) {
		t.Fatalf("err = %v, want ErrKept", err)
	}
}

func TestBounds(t *testing.T) {
	long := strings.Repeat("a/", 2100) + "f"
	tests := []struct {
		name string
		img  v1.Image
		lim  limits.Limits
		want error
	}{
		{"name over PATH_MAX", hostile.Image(t, hostile.Layer(hostile.File(long, 0o644, "x"))), limits.Limits{}, limits.ErrPath},
		{"link target over PATH_MAX", hostile.Image(t, hostile.Layer(hostile.Symlink("s", long))), limits.Limits{}, limits.ErrPath},
		{"uncompressed bytes", hostile.HugeFile(t, 4<<20), limits.Limits{Uncompressed: 1 << 20}, limits.ErrUncompressed},
		{"implied directories count", hostile.Image(t, hostile.Layer(hostile.File(strings.Repeat("d/", 100)+"f", 0o644, "x"))), limits.Limits{Entries: 50}, limits.ErrEntries},
		{"layers", hostile.Image(t, hostile.Layer(), hostile.Layer()), limits.Limits{Layers: 1}, limits.ErrLayers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := limits.With(context.Background(), tt.lim)
			_, werr := walk(ctx, tt.img)
			_, rerr := imagefs.Read(ctx, tt.img, nil, 0)
			for name, err := range map[string]error{"Walk": werr, "Read": rerr} {
				if !errors.Is(err, tt.want) {
					t.Errorf("%s: err = %v, want %v", name, err, tt.want)
				}
			}
		})
	}
}

// TestLyingDiffID: a layer whose contents are not the config's diff ID
// is a failed read, whatever the image's source.
func TestLyingDiffID(t *testing.T) {
	if _, err := walk(context.Background(), hostile.LyingDiffID(t)); !errors.Is(err, blob.ErrDigest) {
		t.Fatalf("err = %v, want a diff ID mismatch", err)
	}
}

// TestCancel: a walk stops at its context's end, mid-layer.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	img := hostile.Image(t, hostile.BigFile("big", 64<<20))
	start := time.Now()
	err := imagefs.Walk(ctx, img, func(e imagefs.Entry, r io.Reader) error {
		cancel()
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s to stop", d)
	}
}

// TestKeptFileMemory: reading an image with a 64 MiB file to keep, under
// a 1 MiB limit, allocates a small fraction of it: the file streams past.
func TestKeptFileMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("SKIP under -race: sync.Pool drops buffers at random there, allocations are not the reader's")
	}
	ctx := limits.With(context.Background(), limits.Limits{Kept: 1 << 20})
	img := hostile.HugeFile(t, 64<<20)
	if _, err := img.ConfigFile(); err != nil { // the layer's digest, computed once, beforehand
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := imagefs.Read(ctx, img, func(imagefs.Entry) bool { return true }, 0); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Errorf("allocated %d MiB to read a 64 MiB file it may not keep", n>>20)
	}
}
