//go:build unix

package buildcache

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A shared cache directory (restored from a CI cache, which keeps
// symlinks and special files) may hold a symlink or a FIFO where go-image
// keeps its own files: it must neither write through the symlink (the trim
// marker clobbered a file outside the cache) nor block on the FIFO (open
// waits for a writer forever, and the build with it).
func TestLocalPlantedSpecialFiles(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := openDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(d.dir, "trim.txt")); err != nil {
		t.Fatal(err)
	}
	d.trim(time.Now())
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("trim wrote through the symlink trim.txt: the file outside the cache now holds %q", b)
	}

	action := sum("compile fifo")
	p := d.actionPath(action)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	os.Remove(filepath.Join(d.dir, "trim.txt"))
	if err := syscall.Mkfifo(filepath.Join(d.dir, "trim.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() {
		_, ok := d.get(action)
		d.trim(time.Now())
		done <- ok
	}()
	select {
	case ok := <-done:
		if ok {
			t.Error("hit on a FIFO action record")
		}
	case <-time.After(3 * time.Second):
		// Unblock the opens so the test can end.
		for _, f := range []string{p, filepath.Join(d.dir, "trim.txt")} {
			if w, err := os.OpenFile(f, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
		}
		t.Fatal("get or trim blocked on a FIFO planted in the cache directory")
	}
}
