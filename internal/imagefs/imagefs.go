// Package imagefs reads an image's flattened filesystem: what a container
// started from the image sees. It is go-image's one reader of layer
// contents: every gate, the smoke rootfs and (through the same checks) the
// scan's input read files only through here.
//
// Layers are applied as a runtime applies them: in order, each entry
// replacing what was at its path (a directory over a directory merges),
// whiteouts deleting a lower layer's path, opaque directories hiding a
// lower layer's contents, hard links sharing their file (so a link keeps
// the first file when a later layer replaces the path it linked to).
//
// Where runtimes and image readers disagree, imagefs refuses the layer
// with a named check (Refusal, Check*) instead of picking one reading:
// a path listed twice in one layer (containerd keeps the last copy,
// go-containerregistry's Extract the first), a whiteout of a path the same
// layer lists, an opaque marker after its directory's entries, an entry
// below a symlink or a file, a name or hard-link target leaving the root,
// a hard link to nothing, a directory or through a symlink, or with
// another owner or mode than its file, sparse and unknown entry types.
// Real tools (docker, BuildKit, Dagger, ko, go-image) write none of these;
// their shapes — "./" prefixes, implied parent directories, hard links
// within and across layers — are read as a runtime reads them.
//
// Every read is bounded (internal/limits: entries, path length,
// uncompressed bytes, kept file size), checks each layer against its diff
// ID while it streams (Layers), and stops when its context is done.
package imagefs

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/limits"
)

// Entry is one file of the flattened filesystem.
type Entry struct {
	// Path is absolute and clean: "/usr/local/bin/app".
	Path string
	// Type is the tar type flag: tar.TypeReg, TypeDir, TypeSymlink, TypeLink,
	// TypeChar, TypeBlock or TypeFifo.
	Type byte
	// Mode carries the permission bits and fs.ModeSetuid, ModeSetgid and
	// ModeSticky, as tar.FileInfoHeader would.
	Mode fs.FileMode
	UID  int
	GID  int
	// Size is the content length of a regular file, else 0.
	Size int64
	// Linkname is a symlink's target as stored, or a hard link's file: the
	// absolute path of the entry holding its contents, which Walk yields
	// before the link. A hard link carries its file's mode and owner.
	Linkname string
	// Layer is the index (from 0) of the layer whose entry set this one.
	Layer int
	// Capabilities: the entry carries file capabilities (the
	// security.capability xattr, in a PAX record), which a runtime sets and
	// which grant privileges on exec as a setuid bit does.
	Capabilities bool
}

// Regular reports whether e holds file contents.
func (e Entry) Regular() bool { return e.Type == tar.TypeReg || e.Type == tar.TypeRegA }

// Dir reports whether e is a directory.
func (e Entry) Dir() bool { return e.Type == tar.TypeDir }

// Executable reports whether any execute bit is set.
func (e Entry) Executable() bool { return e.Mode.Perm()&0o111 != 0 }

// Walk calls fn for every entry of img's flattened filesystem: each path
// once, with its final metadata, a hard link after the file it links to.
// There is no other order: a directory may come after its children
// (layers list children first, or imply parents without listing them:
// parents no layer lists are not yielded, and a runtime creates them 0755
// root:root), so a consumer creates parents as needed and sets directory
// modes last. For a regular file r streams its contents; fn may leave it
// unread. Only one file is in memory at a time, whatever the image's size.
//
// The top layer is read once: its entries are final as they are applied.
// The layers below it are read twice, once to apply them, once to yield
// what survived the layers above (known only once the top layer is
// applied). A refused layer or a failed check (a digest, a bound) ends the
// walk with its error, possibly after fn saw entries: an error means the
// walk's result must not be used.
func Walk(ctx context.Context, img v1.Image, fn func(e Entry, r io.Reader) error) error {
	ls, err := OpenLayers(ctx, img)
	if err != nil {
		return err
	}
	if ls.Len() == 0 {
		return nil
	}
	a := newApplier(ls)
	top := ls.Len() - 1
	for i := 0; i < top; i++ {
		if err := a.applyLayer(ctx, i); err != nil {
			return err
		}
	}
	a.emit = fn
	if err := a.applyLayer(ctx, top); err != nil {
		return err
	}
	if top == 0 {
		return nil
	}
	plan, later := a.plan(top)
	// A second pass has its own bounds: it reads what the first did.
	if ls, err = OpenLayers(ctx, img); err != nil {
		return err
	}
	for i := 0; i < top; i++ {
		ord := 0
		_, err := ls.Stream(ctx, i, false, func(h *tar.Header, r io.Reader) error {
			e, ok := plan[pos{i, ord}]
			ord++
			if !ok {
				return nil
			}
			// Both reads are checked against the diff ID, at their end;
			// this catches a changed file before fn is fed from it.
			if t := entryOf(h, i).Type; t != e.Type || e.Regular() && h.Size != e.Size {
				return fmt.Errorf("%s: entry %q changed between two reads of the layer: was the image file replaced while go-image read it?", ls.what(i), h.Name)
			}
			if !e.Regular() {
				r = eofReader{}
			}
			return fn(e, r)
		})
		if err != nil {
			return err
		}
	}
	for _, e := range later {
		if err := fn(e, eofReader{}); err != nil {
			return err
		}
	}
	return nil
}

// Validate applies img's layers as Walk and Read do, keeping nothing: an
// image they would refuse, or whose layers are not their diff IDs, is an
// error. For a reader that is not imagefs (Trivy) to be shown only an
// image the gates can judge.
func Validate(ctx context.Context, img v1.Image) error {
	ls, err := OpenLayers(ctx, img)
	if err != nil {
		return err
	}
	return newApplier(ls).applyAll(ctx)
}

// applyAll applies every layer in order.
func (a *applier) applyAll(ctx context.Context) error {
	for i := 0; i < a.ls.Len(); i++ {
		if err := a.applyLayer(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) applyLayer(ctx context.Context, i int) error {
	a.startLayer(i)
	ord := 0
	_, err := a.ls.Stream(ctx, i, false, func(h *tar.Header, r io.Reader) error {
		err := a.apply(h, ord, r)
		ord++
		return err
	})
	return err
}

// visit calls fn for every node below the root, in no order.
func (a *applier) visit(fn func(n *node)) {
	var walk func(*node)
	walk = func(n *node) {
		for _, k := range n.kids {
			fn(k)
			walk(k)
		}
	}
	walk(a.root)
}

// canonical maps each surviving file to the path that yields its
// contents: the first of its paths to have been bound, the one the file
// was created at unless a later layer replaced it there.
func (a *applier) canonical() map[*inode]*node {
	c := map[*inode]*node{}
	a.visit(func(n *node) {
		if n.ino == nil {
			return
		}
		if cur, ok := c[n.ino]; !ok || n.at.layer < cur.at.layer || n.at.layer == cur.at.layer && n.at.ord < cur.at.ord {
			c[n.ino] = n
		}
	})
	return c
}

// entries returns the final filesystem: every listed directory, every
// file at its canonical path and every other path of a file as a hard
// link to it, each with the position of the layer entry to yield it at.
func (a *applier) entries(yield func(at pos, e Entry, n *node)) {
	canon := a.canonical()
	if a.root.listed {
		yield(a.root.at, a.root.meta, a.root)
	}
	a.visit(func(n *node) {
		p := n.path()
		switch {
		case n.dir:
			if n.listed {
				e := n.meta
				e.Path = p
				yield(n.at, e, n)
			}
		case canon[n.ino] == n:
			e := n.ino.meta
			e.Path = p
			yield(n.ino.at, e, n)
		default:
			m := n.ino.meta
			yield(n.at, Entry{Path: p, Type: tar.TypeLink, Mode: m.Mode, UID: m.UID, GID: m.GID,
				Linkname: canon[n.ino].path(), Layer: n.at.layer, Capabilities: m.Capabilities}, n)
		}
	})
}

// plan maps each entry of the layers below top to what it yields, for
// what Walk did not yield while applying top; later are the hard links of
// top to files below it, to yield once their files are.
func (a *applier) plan(top int) (map[pos]Entry, []Entry) {
	plan := map[pos]Entry{}
	var later []Entry
	a.entries(func(at pos, e Entry, n *node) {
		switch {
		case n.emitted:
		case at.layer == top:
			later = append(later, e)
		default:
			plan[at] = e
		}
	})
	return plan, later
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// FS is an index of the flattened filesystem: every entry's metadata, and
// the contents of the few files a caller asked to keep.
type FS struct {
	img      v1.Image
	limit    int64
	entries  []Entry
	byPath   map[string]int
	contents map[string][]byte
}

// Read applies img's layers once, indexing every entry and keeping the
// contents of the regular files for which keep returns true (nil keeps
// none), each up to limit bytes (at most, and by default, the context's
// limits.Kept). A longer file is an error (limits.ErrKept) when its
// contents are asked for: a gate must not judge a file by a truncated
// copy.
func Read(ctx context.Context, img v1.Image, keep func(Entry) bool, limit int64) (*FS, error) {
	if kept := limits.From(ctx).Kept; limit <= 0 || limit > kept {
		limit = kept
	}
	ls, err := OpenLayers(ctx, img)
	if err != nil {
		return nil, err
	}
	a := newApplier(ls)
	a.keep, a.keepLimit = keep, limit
	if err := a.applyAll(ctx); err != nil {
		return nil, err
	}
	return a.fs(img, limit, nil), nil
}

// fs indexes the applied filesystem; notes, when set, receives the notes
// of each regular file at its path.
func (a *applier) fs(img v1.Image, limit int64, notes func(path string, n []any)) *FS {
	f := &FS{img: img, limit: limit, byPath: map[string]int{}, contents: map[string][]byte{}}
	a.entries(func(_ pos, e Entry, n *node) {
		f.entries = append(f.entries, e)
		if n.ino != nil && e.Type != tar.TypeLink {
			if n.ino.kept {
				f.contents[e.Path] = n.ino.data
			}
			if notes != nil && n.ino.notes != nil {
				notes(e.Path, n.ino.notes)
			}
		}
	})
	sort.Slice(f.entries, func(i, j int) bool { return f.entries[i].Path < f.entries[j].Path })
	for i, e := range f.entries {
		f.byPath[e.Path] = i
	}
	return f
}

// Entries returns every entry, sorted by path.
func (f *FS) Entries() []Entry { return f.entries }

// Lookup returns the entry at p without following links.
func (f *FS) Lookup(p string) (Entry, bool) {
	i, ok := f.byPath[clean(p)]
	if !ok {
		return Entry{}, false
	}
	return f.entries[i], true
}

// ErrNotExist is wrapped by Resolve and ReadFile for a missing path.
var ErrNotExist = fs.ErrNotExist

// Resolve follows symlinks (in every path element) and hard links from p to
// the entry they end at, as the kernel would inside the container: element
// by element, a symlink's target read from the directory holding it, and
// ".." the parent of the directory reached so far, after the symlinks that
// led there (so /x/../f through a symlink /x -> /deep/dir is /deep/f, not
// the /f a lexical clean reads).
func (f *FS) Resolve(p string) (Entry, error) {
	var dir []string // the directories reached, from the root
	todo := strings.Split(p, "/")
	for hops := 0; len(todo) > 0; {
		el := todo[0]
		todo = todo[1:]
		switch el {
		case "", ".":
			continue
		case "..":
			if len(dir) > 0 {
				dir = dir[:len(dir)-1]
			}
			continue
		}
		cur := "/" + strings.Join(append(dir, el), "/")
		last := !slices.ContainsFunc(todo, func(s string) bool { return s != "" && s != "." })
		e, ok := f.Lookup(cur)
		switch {
		case !ok && f.implied(cur):
			// Layers may leave parent directories implicit.
			dir = append(dir, el)
		case !ok && path.Join(append([]string{cur}, todo...)...) != clean(p):
			// Name the path that is missing: a symlink's target, say.
			return Entry{}, fmt.Errorf("%s: %s: %w in the image", p, path.Join(append([]string{cur}, todo...)...), ErrNotExist)
		case !ok:
			return Entry{}, fmt.Errorf("%s: %w in the image", p, ErrNotExist)
		case e.Type == tar.TypeSymlink:
			if hops++; hops > 40 {
				return Entry{}, fmt.Errorf("%s: too many levels of symbolic links", p)
			}
			if path.IsAbs(e.Linkname) {
				dir = dir[:0]
			}
			todo = append(strings.Split(e.Linkname, "/"), todo...)
		case e.Type == tar.TypeLink:
			// A hard link is its file, yielded at another path.
			if !last {
				return Entry{}, fmt.Errorf("%s: %s is not a directory", p, cur)
			}
			t, ok := f.Lookup(clean(e.Linkname))
			if !ok {
				return Entry{}, fmt.Errorf("%s: %w in the image", p, ErrNotExist)
			}
			return t, nil
		case last:
			return e, nil
		case !e.Dir():
			return Entry{}, fmt.Errorf("%s: %s is not a directory", p, cur)
		default:
			dir = append(dir, el)
		}
	}
	// Every element was "", "." or "..", or a directory left implicit.
	if e, ok := f.Lookup("/" + strings.Join(dir, "/")); ok {
		return e, nil
	}
	// The root, or a directory left implicit: a runtime creates it 0755.
	return Entry{Path: "/" + strings.Join(dir, "/"), Type: tar.TypeDir, Mode: fs.ModeDir | 0o755}, nil
}

// implied reports whether some entry lies below p, a directory no layer
// listed.
func (f *FS) implied(p string) bool {
	i := sort.Search(len(f.entries), func(i int) bool { return f.entries[i].Path >= p+"/" })
	return i < len(f.entries) && strings.HasPrefix(f.entries[i].Path, p+"/")
}

// ReadFile returns the contents of the regular file at p after following
// links. Kept files come from memory; any other file costs one more walk of
// the image, which is fine for the one or two files a gate discovers late
// (such as a symlinked entrypoint's target).
func (f *FS) ReadFile(ctx context.Context, p string) ([]byte, error) {
	e, err := f.Resolve(p)
	if err != nil {
		return nil, err
	}
	if !e.Regular() {
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	if b, ok := f.contents[e.Path]; ok {
		return b, nil
	}
	if err := limits.Check(e.Size, f.limit, limits.Kept, e.Path); err != nil {
		return nil, err
	}
	var out []byte
	found := false
	// The walk runs to its end, even once the file is read: its checks
	// (the layer's digest) cover the whole layer.
	err = Walk(ctx, f.img, func(x Entry, r io.Reader) error {
		if x.Path != e.Path || found {
			return nil
		}
		b, err := limits.ReadAll(r, f.limit, limits.Kept, x.Path)
		if err != nil {
			return fmt.Errorf("read %s: %w", x.Path, err)
		}
		out, found = b, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%s: %w in the image", p, ErrNotExist)
	}
	return out, nil
}

func clean(p string) string { return path.Clean("/" + p) }
