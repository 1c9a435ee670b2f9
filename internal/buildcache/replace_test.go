package buildcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// setLstatHook runs hook between openRegular's Lstat and Open of p, for
// the test's length.
func setLstatHook(t *testing.T, hook func(p string)) {
	t.Helper()
	testHookLstat = hook
	t.Cleanup(func() { testHookLstat = nil })
}

// TestOpenVerifiedReplaced: the go command stores identical outputs under
// several actions, and each put renames a file of the same bytes over the
// object, so an upload's open can see the inode change between its Lstat
// and its Open. That is a retry, not a planted file (CI saw "not a
// regular file" for one, which switched the build's uploads off); a file
// replaced on every try is still refused.
func TestOpenVerifiedReplaced(t *testing.T) {
	body := []byte("archive bytes")
	id := ID(sha256.Sum256(body))
	for _, tc := range []struct {
		name     string
		replaces int // how many opens see a rename
		ok       bool
	}{
		{"a second put renamed the same bytes over it once", 1, true},
		{"twice", replaceTries - 1, true},
		{"on every try", replaceTries, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "object")
			if err := os.WriteFile(p, body, 0o644); err != nil {
				t.Fatal(err)
			}
			n := 0
			setLstatHook(t, func(string) {
				if n++; n > tc.replaces {
					return
				}
				tmp := p + ".tmp"
				if err := os.WriteFile(tmp, body, 0o644); err != nil {
					t.Error(err)
				}
				if err := os.Rename(tmp, p); err != nil {
					t.Error(err)
				}
			})
			f, err := openVerified(p, id, int64(len(body)))
			if !tc.ok {
				if err == nil || !errors.Is(err, errMismatch) || !strings.Contains(err.Error(), "replaced while opened") {
					t.Fatalf("openVerified = %v, want a mismatch saying the file was replaced", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("openVerified: %v", err)
			}
			defer f.Close()
			var got bytes.Buffer
			if _, err := got.ReadFrom(f); err != nil || !bytes.Equal(got.Bytes(), body) {
				t.Errorf("read %q, %v", got.Bytes(), err)
			}
		})
	}
}

// TestUploadOfAChangedObject: an object whose file changes between the
// upload's check and the upload's own open is that object's fault: it is
// left out, and the build's other outputs still go up (the upload's error
// used to switch every upload off, as if the registry had refused them).
func TestUploadOfAChangedObject(t *testing.T) {
	reg := newTestRegistry(t, nil)
	c, log := openCache(t, reg.ref(), nil)
	changed := object{sum("compile changed"), bytes.Repeat([]byte("x"), 4096)}
	path := c.local.objectPath(changed.output())
	var mu sync.Mutex
	opens := 0
	setLstatHook(t, func(p string) {
		if p != path {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		// The first open is the upload's check; the next ones are the
		// registry client's, which find other bytes in the same inode.
		if opens++; opens == 2 {
			if err := os.WriteFile(p, bytes.Repeat([]byte("y"), 4096), 0o644); err != nil {
				t.Error(err)
			}
		}
	})
	ctx := context.Background()
	if _, err := c.Put(ctx, changed.action, changed.output(), int64(len(changed.body)), bytes.NewReader(changed.body)); err != nil {
		t.Fatal(err)
	}
	st := c.Close(ctx)
	if strings.Contains(log.String(), "outputs stay local") {
		t.Errorf("one changed local object switched the build's uploads off:\n%s", log)
	}
	if !strings.Contains(log.String(), "not uploaded") || st.Corrupt == 0 {
		t.Errorf("the changed object was not reported (corrupt %d):\n%s", st.Corrupt, log)
	}
}
