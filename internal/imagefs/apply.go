package imagefs

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"dagger/go-image/internal/limits"
)

// Check names one kind of layer imagefs refuses because runtimes and
// image readers would build different filesystems from it.
type Check string

// The refusals. Each is what a crafted layer does and real tools never do.
const (
	// CheckDuplicate: a path listed twice in one layer (containerd keeps
	// the last copy, go-containerregistry's Extract the first), or listed
	// as a non-directory after earlier entries of the layer implied it is
	// a directory. Two identical directory entries are accepted.
	CheckDuplicate Check = "image/duplicate-path"
	// CheckWhiteout: a whiteout of a path the same layer lists (the OCI
	// spec applies whiteouts to lower layers only; containerd's appliers
	// disagree), or an entry below a path the layer whites out.
	CheckWhiteout Check = "image/same-layer-whiteout"
	// CheckOpaque: an opaque-directory marker after other entries of its
	// directory in the same layer (real tools write it right after the
	// directory; the appliers disagree on what it then hides).
	CheckOpaque Check = "image/opaque-after-entries"
	// CheckParent: an entry below a symlink or a file: written where the
	// link points by some tools, refused by others.
	CheckParent Check = "image/path-through-non-directory"
	// CheckEscape: a name or hard-link target with ../ leaving the root.
	CheckEscape Check = "image/path-escapes-root"
	// CheckHardlink: a hard link to nothing, to a directory, or to a path
	// through a symlink.
	CheckHardlink Check = "image/hardlink-target"
	// CheckHardlinkMeta: a hard link whose owner or mode differ from its
	// file's: containerd re-owns the shared file from the link's header.
	CheckHardlinkMeta Check = "image/hardlink-metadata"
	// CheckType: an entry type runtimes do not create (sparse, contiguous,
	// unknown), a root that is not a directory, a malformed whiteout.
	CheckType Check = "image/entry-type"
)

// ErrRefused is matched (errors.Is) by every Refusal.
var ErrRefused = errors.New("layer refused")

// Refusal is a layer imagefs refuses: the gates would otherwise judge
// another filesystem than the one the image runs with.
type Refusal struct {
	Check Check
	// Layer is the layer's position, from 1, and Digest its diff ID.
	Layer  int
	Digest string
	// Path is the entry's name as stored (quoted in messages: it is the
	// image's, and may hold anything).
	Path   string
	Detail string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("layer %d (%s): entry %q: %s [%s]: runtimes and image readers disagree on what such a layer holds, so go-image refuses to judge it; rebuild the image with docker, BuildKit, ko or go-image",
		r.Layer, r.Digest, r.Path, r.Detail, r.Check)
}

// Is matches ErrRefused and the sentinel of r's check.
func (r *Refusal) Is(target error) bool {
	if target == ErrRefused {
		return true
	}
	t, ok := target.(*Refusal)
	return ok && t.Path == "" && t.Detail == "" && t.Check == r.Check
}

// The sentinels, for errors.Is.
var (
	ErrDuplicate    = &Refusal{Check: CheckDuplicate}
	ErrWhiteout     = &Refusal{Check: CheckWhiteout}
	ErrOpaque       = &Refusal{Check: CheckOpaque}
	ErrParent       = &Refusal{Check: CheckParent}
	ErrEscape       = &Refusal{Check: CheckEscape}
	ErrHardlink     = &Refusal{Check: CheckHardlink}
	ErrHardlinkMeta = &Refusal{Check: CheckHardlinkMeta}
	ErrEntryType    = &Refusal{Check: CheckType}
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// pos is where an entry is: its layer and its index among the layer's
// tar headers.
type pos struct{ layer, ord int }

// node is one path of the filesystem being built.
type node struct {
	name   string
	parent *node
	kids   map[string]*node // directories only
	dir    bool
	// meta is a directory's metadata (Type, Mode, UID, GID; Layer set).
	meta Entry
	// listed: some layer listed the directory; else its parent directories
	// were only implied (runtimes create them 0755 root:root).
	listed bool
	// at is where a directory was first listed, or where a non-directory
	// was bound to its path.
	at pos
	// touched is the last layer that listed this path or implied it, and
	// implied whether that layer only implied it.
	touched int
	implied bool
	ino     *inode // non-directories
	// emitted: Walk yielded this path while applying the top layer.
	emitted bool
}

// inode is a non-directory's file, which hard links share.
type inode struct {
	meta   Entry // Type, Mode, UID, GID, Size, Linkname (symlinks), Layer
	at     pos   // the entry holding its contents
	origin *node // the path it was created at
	data   []byte
	kept   bool // data holds the contents
	tooBig bool // kept was asked for, but the file is over the limit
	// notes are what a Pass's file readers made of the contents.
	notes []any
}

func (n *node) path() string {
	if n.parent == nil {
		return "/"
	}
	var parts []string
	for c := n; c.parent != nil; c = c.parent {
		parts = append(parts, c.name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

// applier applies layers as a runtime does, in order, last entry wins,
// whiteouts and opaque directories per the OCI image spec, and refuses
// what runtimes would disagree on.
type applier struct {
	ls    *Layers
	lim   limits.Limits
	root  *node
	layer int
	// listed and whited are the paths the current layer listed and whited
	// out so far (clean, relative to the root: "usr/local/bin").
	listed map[string]bool
	whited map[string]bool
	// keep and keepLimit: the contents to keep of regular files (Read).
	keep      func(Entry) bool
	keepLimit int64
	// emit, when set, receives each entry of the top layer as it is
	// applied: nothing above can replace it, and replacing within a layer
	// is refused, so it is final.
	emit func(e Entry, r io.Reader) error
	// inspect, when set, reads every regular file as it is applied
	// (Pass.Files); what it returns is kept with the file.
	inspect func(e Entry, r io.Reader) []any
}

func newApplier(ls *Layers) *applier {
	root := &node{dir: true, kids: map[string]*node{}, touched: -1,
		meta: Entry{Path: "/", Type: tar.TypeDir, Mode: fs.ModeDir | 0o755, Layer: -1}}
	return &applier{ls: ls, lim: ls.lim, root: root}
}

func (a *applier) startLayer(i int) {
	a.layer = i
	a.listed = map[string]bool{}
	a.whited = map[string]bool{}
}

func (a *applier) refuse(c Check, name, format string, args ...any) error {
	return &Refusal{Check: c, Layer: a.layer + 1, Digest: a.ls.diffIDs[a.layer].String(), Path: name, Detail: fmt.Sprintf(format, args...)}
}

// cleanName is name relative to the root, clean ("" for the root
// itself), and false when it leaves the root.
func cleanName(name string) (string, bool) {
	c := path.Clean("/" + name)
	// path.Clean("/"+x) cannot leave the root: compare with the relative
	// cleaning to see whether x tried.
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return strings.TrimPrefix(c, "/"), true
}

// Sparse reports whether h is a GNU sparse entry (old or PAX format): a
// few stored bytes that a tar reader expands into as many as the header
// says. No image tool writes one; imagefs and imagefile refuse them.
func Sparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// capabilityRecords are the PAX records that carry the security.capability
// xattr: containerd and docker write and apply the first, libarchive the
// second.
var capabilityRecords = []string{"SCHILY.xattr.security.capability", "LIBARCHIVE.xattr.security.capability"}

// overlayXattr is the overlayfs xattr a PAX record of h sets, if any:
// trusted.overlay.* (user.overlay.* for rootless overlay mounts) is how
// overlayfs marks opaque directories, whiteouts and redirects, and a
// runtime that applies a layer's xattrs into an overlay upper directory
// gives them that meaning.
func overlayXattr(h *tar.Header) string {
	for k := range h.PAXRecords {
		for _, p := range []string{"SCHILY.xattr.", "LIBARCHIVE.xattr."} {
			x, ok := strings.CutPrefix(k, p)
			if ok && (strings.HasPrefix(x, "trusted.overlay.") || strings.HasPrefix(x, "user.overlay.")) {
				return x
			}
		}
	}
	return ""
}

// entryOf is h's metadata; Path is set by the caller.
func entryOf(h *tar.Header, layer int) Entry {
	e := Entry{Type: h.Typeflag, Mode: h.FileInfo().Mode(), UID: h.Uid, GID: h.Gid, Layer: layer}
	for _, k := range capabilityRecords {
		if _, ok := h.PAXRecords[k]; ok {
			e.Capabilities = true
		}
	}
	if e.Type == tar.TypeRegA {
		e.Type = tar.TypeReg
	}
	switch e.Type {
	case tar.TypeReg:
		e.Size = h.Size
	case tar.TypeSymlink:
		e.Linkname = h.Linkname
	}
	return e
}

// apply applies the header at ord of the current layer; r reads its data.
func (a *applier) apply(h *tar.Header, ord int, r io.Reader) error {
	switch h.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil // metadata for the archive, ignored by runtimes
	case tar.TypeReg, tar.TypeRegA, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return a.refuse(CheckType, h.Name, "type %q: not a file type runtimes create", h.Typeflag)
	}
	for _, s := range []string{h.Name, h.Linkname} {
		if len(s) > a.lim.Path {
			return &limits.Error{Kind: limits.Path, What: fmt.Sprintf("%s: entry %.64q…", a.ls.what(a.layer), s), Limit: int64(a.lim.Path), Got: int64(len(s))}
		}
	}
	if Sparse(h) {
		return a.refuse(CheckType, h.Name, "a sparse file (%d bytes read from a few stored): no image tool writes one", h.Size)
	}
	if x := overlayXattr(h); x != "" {
		return a.refuse(CheckType, h.Name, "an overlayfs xattr (%s): the overlay snapshotter reads it as an opaque directory, a whiteout or a redirect to another directory, other runtimes ignore it; no image tool writes one", x)
	}
	name, ok := cleanName(h.Name)
	if !ok {
		return a.refuse(CheckEscape, h.Name, "the name leaves the image's root")
	}
	e := entryOf(h, a.layer)
	if name == "" {
		return a.applyRoot(h, e, ord)
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if a.listed[name] && !(h.Typeflag == tar.TypeDir) {
		return a.refuse(CheckDuplicate, h.Name, "listed twice in the layer")
	}
	parent, err := a.parentDir(dir, h.Name)
	if err != nil {
		return err
	}
	switch {
	case base == opaqueMarker:
		a.listed[name] = true
		return a.opaque(parent, h.Name)
	case strings.HasPrefix(base, whiteoutPrefix):
		a.listed[name] = true
		target := base[len(whiteoutPrefix):]
		if target == "" || target == "." || target == ".." {
			return a.refuse(CheckType, h.Name, "a whiteout of no file")
		}
		return a.whiteout(parent, path.Join(dir, target), target, h.Name)
	}
	if a.whited[name] {
		return a.refuse(CheckWhiteout, h.Name, "the same layer whites this path out")
	}
	e.Path = "/" + name
	return a.put(parent, name, base, h, e, pos{a.layer, ord}, r)
}

func (a *applier) applyRoot(h *tar.Header, e Entry, ord int) error {
	if h.Typeflag != tar.TypeDir {
		return a.refuse(CheckType, h.Name, "the root is not a directory")
	}
	if a.listed[""] {
		if sameMeta(a.root.meta, e) {
			return nil
		}
		return a.refuse(CheckDuplicate, h.Name, "the root is listed twice in the layer, differently")
	}
	a.listed[""] = true
	e.Path = "/"
	a.root.meta = e
	if !a.root.listed {
		a.root.at = pos{a.layer, ord}
	}
	a.root.listed = true
	if a.emit != nil {
		a.root.emitted = true
		return a.emit(e, eofReader{})
	}
	return nil
}

// parentDir returns the directory dir names, creating the directories a
// layer leaves implied. A symlink or a file on the way is refused: a
// runtime writes through it where a reader does not look.
func (a *applier) parentDir(dir, name string) (*node, error) {
	cur := a.root
	if dir == "" {
		return cur, nil
	}
	for i := 0; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		prefix := dir[:i]
		if a.whited[prefix] {
			return nil, a.refuse(CheckWhiteout, name, "below %s, which the same layer whites out", "/"+prefix)
		}
		elem := prefix[strings.LastIndexByte(prefix, '/')+1:]
		next := cur.kids[elem]
		if next == nil {
			if err := a.ls.addEntries(1); err != nil {
				return nil, err
			}
			next = &node{name: elem, parent: cur, dir: true, kids: map[string]*node{}, touched: a.layer, implied: true,
				meta: Entry{Type: tar.TypeDir, Mode: fs.ModeDir | 0o755, Layer: a.layer}}
			cur.kids[elem] = next
		} else if !next.dir {
			return nil, a.refuse(CheckParent, name, "below %s, which is not a directory (%s)", "/"+prefix, typeName(next.ino.meta.Type))
		}
		cur = next
	}
	return cur, nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeReg:
		return "a file"
	case tar.TypeSymlink:
		return "a symlink"
	case tar.TypeChar, tar.TypeBlock:
		return "a device"
	case tar.TypeFifo:
		return "a FIFO"
	}
	return fmt.Sprintf("type %q", t)
}

// touchedIn reports whether n or anything below it was listed or implied
// by layer.
func touchedIn(n *node, layer int) bool {
	if n.touched == layer {
		return true
	}
	for _, k := range n.kids {
		if touchedIn(k, layer) {
			return true
		}
	}
	return false
}

// whiteout deletes p (a lower layer's) and everything below it.
func (a *applier) whiteout(parent *node, p, base, name string) error {
	a.whited[p] = true
	n := parent.kids[base]
	if n == nil {
		return nil
	}
	if touchedIn(n, a.layer) {
		return a.refuse(CheckWhiteout, name, "whites out %s, which the same layer lists", "/"+p)
	}
	a.remove(n)
	return nil
}

// opaque hides everything lower layers hold in dir. The marker must come
// before the layer's other entries in dir, at any depth, as real tools
// write it: after an entry deeper down (dir/sub/file, sub a lower layer's
// directory), containerd's overlay snapshotter keeps the entry and its
// naive applier deletes it.
func (a *applier) opaque(dir *node, name string) error {
	for _, k := range dir.kids {
		if touchedIn(k, a.layer) {
			return a.refuse(CheckOpaque, name, "comes after %s, which the same layer lists or implies", k.path())
		}
	}
	for _, k := range dir.kids {
		a.remove(k)
	}
	return nil
}

// remove detaches n and its subtree. A kept file's contents go with the
// path that kept them, even if a hard link keeps the file alive: memory
// holds what survives, and ReadFile reads the rest again.
func (a *applier) remove(n *node) {
	delete(n.parent.kids, n.name)
	var drop func(*node)
	drop = func(n *node) {
		if n.ino != nil && n.ino.origin == n {
			n.ino.data, n.ino.kept = nil, false
		}
		for _, k := range n.kids {
			drop(k)
		}
	}
	drop(n)
}

func sameMeta(a, b Entry) bool {
	return a.Type == b.Type && a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID
}

// modeBits are the mode bits a hard link's header must agree on.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// put applies a directory, file, link or device entry at name.
func (a *applier) put(parent *node, name, base string, h *tar.Header, e Entry, at pos, r io.Reader) error {
	n := parent.kids[base]
	if a.listed[name] {
		// Only a directory gets here twice: harmless when identical.
		if n != nil && n.dir && n.touched == a.layer && !n.implied && sameMeta(n.meta, e) {
			return nil
		}
		return a.refuse(CheckDuplicate, h.Name, "listed twice in the layer")
	}
	a.listed[name] = true
	if n != nil && n.touched == a.layer && n.implied {
		if h.Typeflag != tar.TypeDir {
			return a.refuse(CheckDuplicate, h.Name, "earlier entries of the layer imply it is a directory")
		}
	}
	var ino *inode
	if h.Typeflag == tar.TypeLink {
		t, err := a.linkTarget(h)
		if err != nil {
			return err
		}
		if n != nil && under(t, n) {
			return a.refuse(CheckHardlink, h.Name, "links to %s, which this entry replaces", t.path())
		}
		m := t.ino.meta
		if e.Mode&modeBits != m.Mode&modeBits || e.UID != m.UID || e.GID != m.GID {
			return a.refuse(CheckHardlinkMeta, h.Name, "the link says mode %s owner %d:%d, its file %s has %s %d:%d",
				e.Mode&modeBits, e.UID, e.GID, t.path(), m.Mode&modeBits, m.UID, m.GID)
		}
		if e.Capabilities && !m.Capabilities {
			// containerd sets the link header's xattrs on the shared file.
			return a.refuse(CheckHardlinkMeta, h.Name, "the link carries file capabilities (security.capability) its file %s does not", t.path())
		}
		ino = t.ino
	}
	if n != nil {
		if n.dir && h.Typeflag == tar.TypeDir {
			// A directory over a directory merges: the upper metadata, both
			// contents.
			n.meta = e
			if !n.listed {
				n.at = at
			}
			n.listed, n.touched, n.implied = true, a.layer, false
			return a.emitNode(n, e, nil)
		}
		if touchedIn(n, a.layer) {
			return a.refuse(CheckDuplicate, h.Name, "replaces %s, to which the same layer adds", n.path())
		}
		a.remove(n)
	}
	n = &node{name: base, parent: parent, at: at, touched: a.layer}
	parent.kids[base] = n
	switch {
	case h.Typeflag == tar.TypeDir:
		n.dir, n.kids, n.meta, n.listed = true, map[string]*node{}, e, true
	case ino != nil:
		n.ino = ino
	default:
		n.ino = &inode{meta: e, at: at, origin: n}
		if e.Type == tar.TypeReg && a.keep != nil && a.keep(e) {
			if e.Size > a.keepLimit {
				n.ino.tooBig = true
			} else {
				b, err := limits.ReadAll(r, a.keepLimit, limits.Kept, e.Path)
				if err != nil {
					return fmt.Errorf("read %s: %w", e.Path, err)
				}
				n.ino.data, n.ino.kept = b, true
			}
		}
		if e.Regular() && a.inspect != nil {
			src := r
			if n.ino.kept {
				src = bytes.NewReader(n.ino.data)
			}
			n.ino.notes = a.inspect(e, src)
		}
	}
	return a.emitNode(n, e, r)
}

// emitNode passes a just-applied entry to emit, when set.
func (a *applier) emitNode(n *node, e Entry, r io.Reader) error {
	if a.emit == nil {
		return nil
	}
	if n.ino != nil && n.ino.origin != n {
		if n.ino.at.layer != a.layer {
			// A link to a lower layer's file, which comes later: after its
			// file, from the plan.
			return nil
		}
		// A link to a file of this layer, which is final too.
		e = n.ino.meta
		e.Path, e.Type, e.Size, e.Linkname = n.path(), tar.TypeLink, 0, n.ino.origin.path()
	}
	if r == nil || e.Type != tar.TypeReg {
		r = eofReader{}
	}
	n.emitted = true
	return a.emit(e, r)
}

// under reports whether t is n or below it.
func under(t, n *node) bool {
	for c := t; c != nil; c = c.parent {
		if c == n {
			return true
		}
	}
	return false
}

// linkTarget is the file a hard link names: it must exist now, be no
// directory, and be reached through directories only (containerd
// resolves the target inside the root, other tools do not).
func (a *applier) linkTarget(h *tar.Header) (*node, error) {
	ln, ok := cleanName(h.Linkname)
	if !ok {
		return nil, a.refuse(CheckEscape, h.Name, "a hard link to %q, which leaves the image's root", h.Linkname)
	}
	if ln == "" {
		return nil, a.refuse(CheckHardlink, h.Name, "a hard link to the root")
	}
	cur := a.root
	elems := strings.Split(ln, "/")
	for i, el := range elems {
		next := cur.kids[el]
		if next == nil {
			return nil, a.refuse(CheckHardlink, h.Name, "a hard link to %q, which does not exist at this point", h.Linkname)
		}
		if i < len(elems)-1 && !next.dir {
			return nil, a.refuse(CheckHardlink, h.Name, "a hard link to %q, through %s, which is not a directory", h.Linkname, next.path())
		}
		cur = next
	}
	if cur.dir {
		return nil, a.refuse(CheckHardlink, h.Name, "a hard link to the directory %q", h.Linkname)
	}
	return cur, nil
}
