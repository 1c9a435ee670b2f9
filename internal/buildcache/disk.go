package buildcache

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"dagger/go-image/internal/cacheprog"
)

// disk is the local half: outputs under o/, action → output records under
// a/, both sharded by the first byte like the go command's own cache. It is
// trusted as GOCACHE is for this machine's builds: what is on it was
// verified before it got there. It is not trusted to speak for the
// registry: an action record is published only with a valid MAC, an
// object only when it hashes to its name.
// Files appear by rename, so a reader never sees half of one.
type disk struct{ dir string }

// touchAfter: a hit refreshes a file's mtime (which trim reads) at most
// this often, as the go command does.
const touchAfter = time.Hour

func openDisk(dir string) (*disk, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("build cache directory %s: %w", dir, err)
	}
	for _, sub := range []string{"a", "o", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return nil, fmt.Errorf("build cache directory %s: %w: set GOCACHE to a writable directory", abs, err)
		}
	}
	return &disk{dir: abs}, nil
}

func (d *disk) objectPath(o ID) string {
	h := o.String()
	return filepath.Join(d.dir, "o", h[:2], h)
}

func (d *disk) actionPath(a ID) string {
	h := a.String()
	return filepath.Join(d.dir, "a", h[:2], h)
}

// get returns the recorded output of action when its file is there with
// the recorded size.
func (d *disk) get(action ID) (cacheprog.Entry, bool) {
	e, _, ok := d.getMAC(action)
	return e, ok
}

// getMAC is get and the record's MAC (nil when it has none; see
// putActionMAC).
func (d *disk) getMAC(action ID) (cacheprog.Entry, []byte, bool) {
	p := d.actionPath(action)
	b, err := readSmall(p, 256)
	if err != nil {
		return cacheprog.Entry{}, nil, false
	}
	o, size, mac, ok := parseAction(b)
	if !ok {
		return cacheprog.Entry{}, nil, false
	}
	path, ok := d.haveObject(o, size)
	if !ok {
		return cacheprog.Entry{}, nil, false
	}
	if st, err := os.Stat(p); err == nil && time.Since(st.ModTime()) > touchAfter {
		touch(p)
	}
	return cacheprog.Entry{OutputID: o, Size: size, DiskPath: path}, mac, true
}

// parseAction reads "OUTPUT SIZE" or "OUTPUT SIZE MAC".
func parseAction(b []byte) (ID, int64, []byte, bool) {
	f := strings.Fields(string(b))
	if len(f) != 2 && len(f) != 3 {
		return ID{}, 0, nil, false
	}
	o, err := cacheprog.ParseID(f[0])
	if err != nil {
		return ID{}, 0, nil, false
	}
	size, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || size < 0 {
		return ID{}, 0, nil, false
	}
	var mac []byte
	if len(f) == 3 {
		m, err := cacheprog.ParseID(f[2])
		if err != nil {
			return ID{}, 0, nil, false
		}
		mac = m[:]
	}
	return o, size, mac, true
}

// haveObject returns the object's path when it is there with size bytes.
// A symlink is not an object: every object is written here by rename, and
// one planted in a shared cache directory would hand the go command (and
// the upload) a file outside it.
func (d *disk) haveObject(o ID, size int64) (string, bool) {
	p := d.objectPath(o)
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() || st.Size() != size {
		return "", false
	}
	if time.Since(st.ModTime()) > touchAfter {
		touch(p)
	}
	return p, true
}

func (d *disk) putAction(action, output ID, size int64) error {
	return d.putActionMAC(action, output, size, nil)
}

// putActionMAC records action's output with the index entry's MAC, when
// there is a key: the local directory may be shared with jobs that hold
// no key, and only a record that carries a valid MAC is published to the
// registry's index (Cache.Get).
func (d *disk) putActionMAC(action, output ID, size int64, mac []byte) error {
	rec := fmt.Sprintf("%s %d\n", output, size)
	if len(mac) == len(ID{}) {
		rec = fmt.Sprintf("%s %d %s\n", output, size, ID(mac))
	}
	if b, err := readSmall(d.actionPath(action), 256); err == nil && string(b) == rec {
		return nil
	}
	return d.write(d.actionPath(action), func(w io.Writer) error {
		_, err := io.WriteString(w, rec)
		return err
	})
}

var errMismatch = errors.New("content does not match its output ID and size")

// putObject stores body as output unless it is there already, and checks
// that body is size bytes hashing to output; it reads body to its end
// either way.
func (d *disk) putObject(output ID, size int64, body io.Reader) (string, error) {
	if p, ok := d.haveObject(output, size); ok {
		_, err := io.Copy(io.Discard, body)
		return p, err
	}
	p := d.objectPath(output)
	err := d.write(p, func(w io.Writer) error { return copyVerified(w, body, output, size) })
	if err != nil {
		return "", err
	}
	return p, nil
}

// copyVerified copies r to w and fails unless r was exactly size bytes
// hashing to want. It reads at most size+1 bytes of r.
func copyVerified(w io.Writer, r io.Reader, want ID, size int64) error {
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, size+1))
	if err != nil {
		return err
	}
	if n != size || !bytes.Equal(h.Sum(nil), want[:]) {
		return errMismatch
	}
	return nil
}

// write creates path through a temporary file and a rename; a failed write
// leaves nothing behind.
func (d *disk) write(path string, fill func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(d.dir, "tmp"), "w-")
	if err != nil {
		return err
	}
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// trim removes, at most once a day, the files unused for LocalMaxAge (and
// temporary files a killed process left).
func (d *disk) trim(now time.Time) {
	marker := filepath.Join(d.dir, "trim.txt")
	if b, err := readSmall(marker, 64); err == nil {
		if t, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && now.Sub(time.Unix(t, 0)) < 24*time.Hour {
			return
		}
	}
	cutoff := now.Add(-LocalMaxAge)
	for _, sub := range []string{"a", "o", "tmp"} {
		_ = filepath.WalkDir(filepath.Join(d.dir, sub), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
				os.Remove(p)
			}
			return nil
		})
	}
	// By rename: a symlink planted as the marker is replaced, not written
	// through.
	_ = d.write(marker, func(w io.Writer) error {
		_, err := io.WriteString(w, strconv.FormatInt(now.Unix(), 10))
		return err
	})
}

func touch(p string) {
	now := time.Now()
	_ = os.Chtimes(p, now, now)
}

// readSmall reads a regular file of at most max bytes; a larger one is an
// error, and so is anything else at p: go-image writes only regular files
// (by rename), and opening a FIFO planted in a shared cache directory
// would wait for a writer forever.
func readSmall(p string, max int64) ([]byte, error) {
	f, err := openRegular(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, max)
	}
	return b, nil
}

// openVerified opens the object file at p for an upload, after checking
// that it is a regular file of size bytes hashing to want: the local
// directory may be shared, and bytes that are not the object never leave
// the machine under its name. Each open checks again, so a file swapped
// after the first check is caught too.
func openVerified(p string, want ID, size int64) (io.ReadCloser, error) {
	f, err := openRegular(p)
	if err != nil {
		return nil, err
	}
	if err := copyVerified(io.Discard, f, want, size); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	// At most size bytes, whatever is appended meanwhile.
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, size), f}, nil
}

// replaceTries bounds openRegular's retries: two puts of one output (the go
// command stores identical outputs under several actions) each rename a
// file of the same bytes over the object, and an upload's open between the
// Lstat and the Open saw another inode. Only a writer renaming files in a
// loop fails them all.
const replaceTries = 3

// testHookLstat, when set, runs between openRegular's Lstat and Open.
var testHookLstat func(p string)

// openRegular opens the regular file at p, never a FIFO or a device
// (Lstat first: opening a planted FIFO would block) and never through a
// symlink (the file opened must be the one Lstat saw).
func openRegular(p string) (*os.File, error) {
	for try := 1; ; try++ {
		lst, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		if !lst.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file (%s): %w", p, lst.Mode().Type(), errMismatch)
		}
		if testHookLstat != nil {
			testHookLstat(p)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err == nil && os.SameFile(lst, st) {
			return f, nil
		}
		f.Close()
		if try == replaceTries {
			return nil, fmt.Errorf("%s: replaced while opened, %d times: %w", p, replaceTries, errMismatch)
		}
	}
}
