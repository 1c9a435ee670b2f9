package smoke

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// extract writes the image's flattened filesystem into dir. Owners are kept
// when chown is set (the process runs as the image's user and must be able
// to enter its home directory); device nodes are skipped.
func extract(img v1.Image, dir string, chown bool) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	type dirMode struct {
		path string
		mode os.FileMode
	}
	var dirs []dirMode
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read image filesystem: %w", err)
		}
		rel := path.Clean("/" + h.Name)
		if rel == "/" {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(h.Mode & 0o7777)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			// Modes last: a 0555 directory would refuse its own children.
			dirs = append(dirs, dirMode{dst, mode})
		case tar.TypeReg:
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("extract %s: %w", rel, err)
			}
			if err := os.Chmod(dst, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return err
			}
		case tar.TypeLink:
			target := filepath.Join(dir, filepath.FromSlash(path.Clean("/"+h.Linkname)))
			if err := os.Link(target, dst); err != nil {
				return err
			}
		default:
			continue
		}
		if chown {
			if err := os.Lchown(dst, h.Uid, h.Gid); err != nil {
				return err
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].path, dirs[i].mode); err != nil {
			return err
		}
	}
	// The root itself must be enterable by the image's user.
	return os.Chmod(dir, 0o755)
}

// resolve returns the host path of p inside rootfs, following symlinks as
// the container would (absolute links are relative to rootfs).
func resolve(rootfs, p string) (string, error) {
	cur := path.Clean("/" + p)
	for range 16 {
		host := filepath.Join(rootfs, filepath.FromSlash(cur))
		fi, err := os.Lstat(host)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return host, nil
		}
		l, err := os.Readlink(host)
		if err != nil {
			return "", err
		}
		if !path.IsAbs(l) {
			l = path.Join(path.Dir(cur), l)
		}
		cur = path.Clean(l)
	}
	return "", fmt.Errorf("%s: too many symbolic links", p)
}

// identity resolves an image's USER (uid[:gid] or names) against the
// image's own /etc/passwd and /etc/group.
func identity(rootfs, user string) (uid, gid uint32, err error) {
	if user == "" {
		return 0, 0, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	uidN, gidN, err := lookup(filepath.Join(rootfs, "etc/passwd"), u, 2, 3)
	if err != nil {
		return 0, 0, fmt.Errorf("image user %q: %w", user, err)
	}
	if hasGroup {
		if gidN, _, err = lookup(filepath.Join(rootfs, "etc/group"), g, 2, -1); err != nil {
			return 0, 0, fmt.Errorf("image group %q: %w", user, err)
		}
	}
	return uint32(uidN), uint32(gidN), nil
}

// lookup finds name (or a numeric ID) in a passwd-style file and returns the
// fields at idField and extraField (-1: none).
func lookup(file, name string, idField, extraField int) (int, int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		extra := n
		if extraField >= 0 {
			// A numeric uid with a passwd entry takes that entry's group.
			if _, e, err := lookupName(file, func(f []string) bool { return f[idField] == name }, idField, extraField); err == nil {
				extra = e
			}
		}
		return n, extra, nil
	}
	return lookupName(file, func(f []string) bool { return f[0] == name }, idField, extraField)
}

func lookupName(file string, match func([]string) bool, idField, extraField int) (int, int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Split(s.Text(), ":")
		if len(fs) <= idField || len(fs) <= extraField || !match(fs) {
			continue
		}
		id, err := strconv.Atoi(fs[idField])
		if err != nil {
			return 0, 0, fmt.Errorf("%s: bad ID in %q", file, s.Text())
		}
		extra := id
		if extraField >= 0 {
			if extra, err = strconv.Atoi(fs[extraField]); err != nil {
				return 0, 0, fmt.Errorf("%s: bad ID in %q", file, s.Text())
			}
		}
		return id, extra, nil
	}
	return 0, 0, fmt.Errorf("no entry in %s", file)
}
