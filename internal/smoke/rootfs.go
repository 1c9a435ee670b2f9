package smoke

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/sandbox"
)

// MaxRootfsBytes bounds what extract writes to disk: the smoke gate runs
// services, not data sets.
const MaxRootfsBytes = 4 << 30

// maxRootfsBytes is MaxRootfsBytes, lowered by tests.
var maxRootfsBytes int64 = MaxRootfsBytes

// ErrRootfsTooLarge is extract's error for an image whose files add up to
// more than MaxRootfsBytes.
var ErrRootfsTooLarge = errors.New("the image's files exceed the smoke gate's limit")

// tree is a directory holding an image's filesystem. Every path is resolved
// in it as the kernel resolves it in a container whose root it is: an
// absolute symbolic link starts again at the tree's root, and ".." stops
// there. Every operation then goes through os.Root, which refuses whatever
// would still leave the directory: a hostile layer cannot make extraction
// write, chmod, chown or link anything outside it.
type tree struct{ root *os.Root }

func openTree(dir string) (*tree, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &tree{root: r}, nil
}

func (t *tree) Close() error { return t.root.Close() }

// maxLinks is the kernel's limit of symbolic links in one path (MAXSYMLINKS).
const maxLinks = 40

// resolve returns p with every symbolic link in it replaced by its target,
// relative to the tree's root ("" is the root). Components that do not
// exist are kept as they are.
func (t *tree) resolve(p string) (string, error) {
	var out []string
	rest := strings.Split(p, "/")
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			continue
		}
		cur := strings.Join(append(out, c), "/")
		fi, err := t.root.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			out = append(out, c)
			continue
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			out = append(out, c)
			continue
		}
		if links++; links > maxLinks {
			return "", fmt.Errorf("/%s: too many levels of symbolic links", p)
		}
		target, err := t.root.Readlink(cur)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			out = nil
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return strings.Join(out, "/"), nil
}

// resolveParent resolves p's directory and keeps its last component, which
// is what a new entry replaces (never followed).
func (t *tree) resolveParent(p string) (string, error) {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "", nil
	}
	dir, base := path.Split(p)
	d, err := t.resolve(dir)
	if err != nil {
		return "", err
	}
	return path.Join(d, base), nil
}

// readFile reads the image's file p (symbolic links followed inside the
// tree), at most limit bytes.
func (t *tree) readFile(p string, limit int64) ([]byte, error) {
	r, err := t.resolve(strings.TrimPrefix(path.Clean("/"+p), "/"))
	if err != nil {
		return nil, err
	}
	f, err := t.root.Open(r)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("/%s is larger than %d bytes", p, limit)
	}
	return b, err
}

// mkdirs makes each of dirs an empty directory of the tree with mode 0755
// (tmp: 1777) where it is missing or not a directory: the runners mount
// over them, as a runtime mounts /proc, /dev and /tmp over the image's.
func (t *tree) mkdirs(dirs ...string) error {
	for _, d := range dirs {
		fi, err := t.root.Lstat(d)
		if err == nil && fi.IsDir() {
			continue
		}
		if err == nil {
			if err := t.root.RemoveAll(d); err != nil {
				return err
			}
		}
		if err := t.root.Mkdir(d, 0o755); err != nil {
			return err
		}
		if d == "tmp" {
			if err := t.root.Chmod(d, 0o777|fs.ModeSticky); err != nil {
				return err
			}
		}
	}
	return nil
}

// owner maps an image file's uid:gid to the host owner extract gives it (-1
// keeps one as it is).
type owner func(uid, gid int) (int, int)

// extract writes img's filesystem into dir, an empty directory, with the
// owners own gives (nil: the extractor's), without setuid and setgid bits,
// and without device nodes. Entries are applied in order and a later one
// replaces an earlier one, as a runtime applies a layer; a hard link must
// name a file inside the tree.
func extract(ctx context.Context, img v1.Image, dir string, own owner) error {
	return extractFrom(dir, own, func(fn func(imagefs.Entry, io.Reader) error) error {
		return imagefs.Walk(ctx, img, fn)
	})
}

// extractFrom is extract over the entries walk gives, in order.
func extractFrom(dir string, own owner, walk func(func(imagefs.Entry, io.Reader) error) error) error {
	t, err := openTree(dir)
	if err != nil {
		return err
	}
	defer t.Close()
	x := &extraction{t: t, own: own, dirs: map[string]fs.FileMode{}}
	if err := walk(x.add); err != nil {
		return err
	}
	if err := x.linkPending(); err != nil {
		return err
	}
	// Directory modes last, deepest first: a 0555 directory would refuse
	// its own children.
	dirs := make([]string, 0, len(x.dirs))
	for d := range x.dirs {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	for _, d := range dirs {
		if err := t.root.Chmod(d, x.dirs[d]); err != nil {
			return fmt.Errorf("extract /%s: %w", d, err)
		}
	}
	if own != nil {
		if u, g := own(0, 0); u >= 0 || g >= 0 {
			if err := t.root.Lchown(".", u, g); err != nil {
				return err
			}
		}
	}
	// The root itself must be enterable by the image's user.
	return t.root.Chmod(".", 0o755)
}

type extraction struct {
	t       *tree
	own     owner
	dirs    map[string]fs.FileMode
	links   []hardLink
	written int64
}

type hardLink struct{ name, target string } // as in the image

func (x *extraction) add(e imagefs.Entry, r io.Reader) error {
	name := strings.TrimPrefix(path.Clean("/"+e.Path), "/")
	if name == "" {
		return nil
	}
	if strings.HasPrefix(path.Base(name), ".wh.") {
		return fmt.Errorf("extract /%s: a whiteout in the image's flattened filesystem: the image reader must apply it", name)
	}
	switch e.Type {
	case tar.TypeReg, tar.TypeRegA, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
	default:
		return nil // devices and FIFOs are never created
	}
	dst, err := x.place(name, e.Type == tar.TypeDir)
	if err != nil {
		return fmt.Errorf("extract /%s: %w", name, err)
	}
	if dst == "" {
		return nil // "/" or an existing directory
	}
	// Setuid and setgid are dropped: nothing in the smoke run may gain
	// privileges, and the harden gate judges them.
	mode := e.Mode.Perm() | e.Mode&fs.ModeSticky
	switch e.Type {
	case tar.TypeDir:
		if err := x.t.root.Mkdir(dst, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("extract /%s: %w", name, err)
		}
		x.dirs[dst] = mode
	case tar.TypeReg, tar.TypeRegA:
		if err := x.write(dst, r); err != nil {
			return fmt.Errorf("extract /%s: %w", name, err)
		}
	case tar.TypeSymlink:
		if err := x.t.root.Symlink(e.Linkname, dst); err != nil {
			return fmt.Errorf("extract /%s: %w", name, err)
		}
	case tar.TypeLink:
		// The target's owner and mode stand: a link is the same file.
		return x.link(hardLink{name: name, target: e.Linkname})
	}
	if err := x.chown(dst, e.UID, e.GID); err != nil {
		return fmt.Errorf("extract /%s: %w", name, err)
	}
	if e.Type == tar.TypeReg || e.Type == tar.TypeRegA {
		// After chown, which clears mode bits on some file systems.
		return x.t.root.Chmod(dst, mode)
	}
	return nil
}

// place resolves where the entry name goes, makes its parent directories,
// and removes what is there unless both are directories. It returns ""
// when nothing is to be created.
func (x *extraction) place(name string, dir bool) (string, error) {
	dst, err := x.t.resolveParent(name)
	if err != nil || dst == "" {
		return "", err
	}
	if parent := path.Dir(dst); parent != "." {
		if err := x.t.root.MkdirAll(parent, 0o755); err != nil {
			return "", err
		}
	}
	fi, err := x.t.root.Lstat(dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return dst, nil
	case err != nil:
		return "", err
	case dir && fi.IsDir():
		return dst, nil
	}
	delete(x.dirs, dst)
	return dst, x.t.root.RemoveAll(dst)
}

func (x *extraction) write(dst string, r io.Reader) error {
	// O_EXCL: place removed what was there; nothing is followed.
	f, err := x.t.root.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, maxRootfsBytes-x.written+1))
	x.written += n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && x.written > maxRootfsBytes {
		err = fmt.Errorf("%w (more than %d bytes): the smoke gate runs images of at most %d bytes of files", ErrRootfsTooLarge, maxRootfsBytes, maxRootfsBytes)
	}
	return err
}

// link makes the hard link l now if its target exists, and otherwise keeps
// it for linkPending: the image reader may give an upper layer's link
// before the lower layer's file.
func (x *extraction) link(l hardLink) error {
	src, err := x.t.resolveParent(l.target)
	if err != nil {
		return fmt.Errorf("extract /%s: hard link to %s: %w", l.name, l.target, err)
	}
	if _, err := x.t.root.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		x.links = append(x.links, l)
		return nil
	}
	dst, err := x.place(l.name, false)
	if err != nil {
		return fmt.Errorf("extract /%s: %w", l.name, err)
	}
	if src == "" || dst == "" {
		return fmt.Errorf("extract /%s: hard link to %s: the root is not a file", l.name, l.target)
	}
	if err := x.t.root.Link(src, dst); err != nil {
		return fmt.Errorf("extract /%s: hard link to %s: %w", l.name, l.target, err)
	}
	return nil
}

func (x *extraction) linkPending() error {
	for len(x.links) > 0 {
		pending := x.links
		x.links = nil
		for _, l := range pending {
			if err := x.link(l); err != nil {
				return err
			}
		}
		if len(x.links) == len(pending) {
			l := x.links[0]
			return fmt.Errorf("extract /%s: hard link to %s, which is not in the image", l.name, l.target)
		}
	}
	return nil
}

func (x *extraction) chown(dst string, uid, gid int) error {
	if x.own == nil {
		return nil
	}
	u, g := x.own(uid, gid)
	if u < 0 && g < 0 {
		return nil
	}
	return x.t.root.Lchown(dst, u, g)
}

// removeTree removes dir, whose directories may have lost their write bits
// (a 0555 directory of the image, extracted by a caller that is not root).
func removeTree(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}

// maxIDFile bounds /etc/passwd and /etc/group.
const maxIDFile = 4 << 20

// identity resolves the image's USER (uid[:gid] or names) to the uid and
// gid its service runs as, from the image's own /etc/passwd and /etc/group.
// A USER that is empty or resolves to uid 0 is run as 65532:65532 instead:
// the smoke gate never runs a service as root; note says so, for the report
// (harden/user-nonroot is the check that fails the image for it).
func identity(t *tree, user string) (uid, gid uint32, note string, err error) {
	return identityFrom(t.readFile, user)
}

// ImageIdentity is identity read straight from the image's flattened
// filesystem, for a runner that does not extract it (the Dagger service):
// every runner then runs the same user, and never root.
func ImageIdentity(ctx context.Context, img v1.Image, user string) (uid, gid uint32, note string, err error) {
	if user == "" {
		return identityFrom(nil, user)
	}
	f, err := imagefs.Read(ctx, img, func(e imagefs.Entry) bool {
		return e.Path == "/etc/passwd" || e.Path == "/etc/group"
	}, maxIDFile)
	if err != nil {
		return 0, 0, "", fmt.Errorf("image user %q: %w", user, err)
	}
	// f refuses a file over maxIDFile, as tree.readFile does.
	return identityFrom(func(p string, _ int64) ([]byte, error) { return f.ReadFile(ctx, p) }, user)
}

// identityFrom is identity over any reader of the image's files.
func identityFrom(readFile func(p string, limit int64) ([]byte, error), user string) (uid, gid uint32, note string, err error) {
	asNonRoot := func(why string) (uint32, uint32, string, error) {
		return sandbox.NonRoot, sandbox.NonRoot, fmt.Sprintf("%s: run as %d:%d instead, never as root", why, sandbox.NonRoot, sandbox.NonRoot), nil
	}
	if user == "" {
		return asNonRoot("the image sets no USER (root)")
	}
	u, g, hasGroup := strings.Cut(user, ":")
	passwd, perr := readFile("/etc/passwd", maxIDFile)
	const fix = "set a numeric USER such as 65532:65532, or add the name to the image's /etc/passwd and /etc/group"
	uidN, gidN, err := lookup(passwd, perr, u, 2, 3)
	if err != nil {
		return 0, 0, "", fmt.Errorf("image user %q: %w: %s", user, err, fix)
	}
	if hasGroup {
		group, gerr := readFile("/etc/group", maxIDFile)
		if gidN, _, err = lookup(group, gerr, g, 2, -1); err != nil {
			return 0, 0, "", fmt.Errorf("image group %q: %w: %s", user, err, fix)
		}
	}
	if uidN < 0 || gidN < 0 || uidN > 1<<32-2 || gidN > 1<<32-2 {
		return 0, 0, "", fmt.Errorf("image user %q: IDs out of range (0 to 4294967294): %s", user, fix)
	}
	if uidN == 0 {
		return asNonRoot(fmt.Sprintf("the image's USER %q is root", user))
	}
	return uint32(uidN), uint32(gidN), "", nil
}

// lookup finds name (or a numeric ID) in a passwd-style file and returns the
// fields at idField and extraField (-1: none). A numeric ID needs no file.
func lookup(file []byte, readErr error, name string, idField, extraField int) (int, int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		extra := n
		if extraField >= 0 && readErr == nil {
			// A numeric uid with a passwd entry takes that entry's group.
			if _, e, err := lookupName(file, func(f []string) bool { return f[idField] == name }, idField, extraField); err == nil {
				extra = e
			}
		}
		return n, extra, nil
	}
	if readErr != nil {
		return 0, 0, readErr
	}
	return lookupName(file, func(f []string) bool { return f[0] == name }, idField, extraField)
}

func lookupName(file []byte, match func([]string) bool, idField, extraField int) (int, int, error) {
	s := bufio.NewScanner(bytes.NewReader(file))
	for s.Scan() {
		fs := strings.Split(s.Text(), ":")
		if len(fs) <= idField || len(fs) <= extraField || !match(fs) {
			continue
		}
		id, err := strconv.Atoi(fs[idField])
		if err != nil {
			return 0, 0, fmt.Errorf("bad ID in %q", s.Text())
		}
		extra := id
		if extraField >= 0 {
			if extra, err = strconv.Atoi(fs[extraField]); err != nil {
				return 0, 0, fmt.Errorf("bad ID in %q", s.Text())
			}
		}
		return id, extra, nil
	}
	if err := s.Err(); err != nil {
		return 0, 0, err
	}
	return 0, 0, errors.New("no such entry")
}
