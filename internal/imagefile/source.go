package imagefile

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/limits"
)

// ErrArchive is wrapped by every refusal of an image tarball's or layout's
// structure: two members of one name, a sparse member, a member that is
// not a regular file.
var ErrArchive = errors.New("unsafe image archive")

// source is where an image's files are: the members of an image tarball or
// the files of an OCI layout directory.
type source interface {
	// open returns the regular file name and its size.
	open(name string) (io.ReadCloser, int64, error)
	// size returns name's size, and false when there is no such file.
	size(name string) (int64, bool)
	String() string
}

// member is where a tarball member's data lies in the file.
type member struct {
	offset, size int64
}

// tarSource is an image tarball indexed once: every member's name, offset
// and size. A blob read is a seek and a bounded read, not a scan of the
// archive, and every read of a name gets the same bytes.
type tarSource struct {
	path    string
	members map[string]member
}

func (t *tarSource) String() string { return t.path }

// clean is the name tools look members up by: "./index.json",
// "index.json" and "a/../index.json" are one name.
func clean(name string) string { return path.Clean(strings.TrimPrefix(name, "./")) }

// indexTar reads the archive's headers once. Two members that tools would
// look up by one name, a sparse member (a few bytes that read as
// gigabytes) and more members than the limit are refused: every tool must
// read the same bytes for a name, and no read may outgrow the file.
func indexTar(ctx context.Context, p string) (*tarSource, error) {
	lim := limits.From(ctx)
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pr := &posReader{f: f}
	tr := tar.NewReader(pr)
	t := &tarSource{path: p, members: map[string]member{}}
	seen := map[string]bool{}
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive (%v): pass the file written by `go-image build --output`, `dagger call … tarball export` or `docker save`", err)
		}
		if n >= lim.ArchiveMembers {
			return nil, &limits.Error{Kind: limits.ArchiveMembers, What: p, Limit: int64(lim.ArchiveMembers)}
		}
		if h.Typeflag == tar.TypeDir || h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name := clean(h.Name)
		if seen[name] {
			return nil, fmt.Errorf("%w: two members are named %s: tools disagree on which one an image is made of; re-export the image", ErrArchive, name)
		}
		seen[name] = true
		if imagefs.Sparse(h) {
			return nil, fmt.Errorf("%w: member %s is a sparse file (%d bytes read from a few stored): no image tool writes one; re-export the image", ErrArchive, name, h.Size)
		}
		if h.Typeflag != tar.TypeReg {
			if name == "index.json" || name == "manifest.json" || name == "oci-layout" || strings.HasPrefix(name, "blobs/") {
				// A tool that follows the link reads another file than one
				// that skips it.
				return nil, fmt.Errorf("%w: member %s is a link or special file (type %q), not a file: re-export the image", ErrArchive, name, h.Typeflag)
			}
			continue
		}
		t.members[name] = member{offset: pr.pos, size: h.Size}
	}
	if len(seen) == 0 {
		return nil, errors.New("not a tar archive (empty archive): pass the file written by `go-image build --output`")
	}
	return t, nil
}

func (t *tarSource) size(name string) (int64, bool) {
	m, ok := t.members[name]
	return m.size, ok
}

func (t *tarSource) open(name string) (io.ReadCloser, int64, error) {
	m, ok := t.members[name]
	if !ok {
		return nil, 0, fmt.Errorf("%s: no such regular file in the archive", name)
	}
	f, err := os.Open(t.path)
	if err != nil {
		return nil, 0, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, m.offset, m.size), f}, m.size, nil
}

// posReader tracks the offset tar.Reader has reached, seeking as it skips
// member data: after Next, the offset is where the member's data starts.
type posReader struct {
	f   *os.File
	pos int64
}

func (p *posReader) Read(b []byte) (int, error) {
	n, err := p.f.Read(b)
	p.pos += int64(n)
	return n, err
}

func (p *posReader) Seek(off int64, whence int) (int64, error) {
	n, err := p.f.Seek(off, whence)
	if err == nil {
		p.pos = n
	}
	return n, err
}

// dirSource is an OCI layout directory, read through os.Root: a symlink
// in it cannot lead a read out of the directory.
type dirSource struct {
	dir  string
	root *os.Root
}

func (d *dirSource) String() string { return d.dir }

func (d *dirSource) size(name string) (int64, bool) {
	st, err := d.root.Stat(name)
	if err != nil || !st.Mode().IsRegular() {
		return 0, false
	}
	return st.Size(), true
}

func (d *dirSource) open(name string) (io.ReadCloser, int64, error) {
	// O_NONBLOCK: opening a FIFO planted as a blob must not hang.
	f, err := d.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("%s: no such file in the layout", name)
		}
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %s is not a regular file (%s)", ErrArchive, name, st.Mode().Type())
	}
	return f, st.Size(), nil
}
