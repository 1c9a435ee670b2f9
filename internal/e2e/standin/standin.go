// Package standin builds the images the Dagger engine tests pull, from what
// this machine has: Debian's busybox-static, the Go toolchain the tests run
// with, the pinned Trivy binary and Dagger's codegen. The upstream images
// (golang:<v>-alpine, alpine, aquasec/trivy, Dagger's Go SDK runtime) come
// from Docker Hub and ghcr.io, which these machines cannot reach.
//
// A stand-in has what go-image's functions use of its upstream image, and no
// more: there is no apk and no musl, so paths that install packages (the
// upx-compress option) fail on them with "apk: not in this stand-in".
//
// Every layer is deterministic (sorted entries, fixed owners, zero mtimes),
// so the same inputs give the same digest and the engine's caches stay warm
// across runs.
package standin

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Busybox is where Debian's busybox-static installs its binary.
const Busybox = "/bin/busybox"

// PATH is the search path of every stand-in, the union of what the upstream
// images set.
const PATH = "/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Tree is a set of files for one layer, keyed by absolute path in the image.
type Tree struct {
	entries map[string]entry
}

type entry struct {
	hdr  tar.Header
	data []byte
	src  string // host file to copy, read when the layer is written
}

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{entries: map[string]entry{}} }

// Dir adds a directory (and its parents, 0755).
func (t *Tree) Dir(p string, mode int64) {
	p = clean(p)
	if p == "" {
		return
	}
	t.parents(p)
	t.entries[p] = entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: mode}}
}

// File adds a file with the given content.
func (t *Tree) File(p string, mode int64, data []byte) {
	p = clean(p)
	t.parents(p)
	t.entries[p] = entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(data))}, data: data}
}

// Symlink adds a symbolic link.
func (t *Tree) Symlink(p, target string) {
	p = clean(p)
	t.parents(p)
	t.entries[p] = entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: p, Linkname: target, Mode: 0o777}}
}

// Copy adds the host file or directory src at p, recursively, keeping modes
// and symlinks. skip names paths (relative to src) to leave out.
func (t *Tree) Copy(src, p string, skip func(rel string) bool) error {
	p = clean(p)
	return filepath.WalkDir(src, func(hp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, hp)
		rel = filepath.ToSlash(rel)
		if rel != "." && skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		ip := p
		if rel != "." {
			ip = path.Join(p, rel)
		}
		info, err := os.Lstat(hp)
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(hp)
			if err != nil {
				return err
			}
			t.Symlink(ip, target)
		case info.IsDir():
			t.Dir(ip, int64(info.Mode().Perm()))
		case info.Mode().IsRegular():
			t.parents(ip)
			t.entries[ip] = entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: ip, Mode: int64(info.Mode().Perm()), Size: info.Size()}, src: hp}
		}
		return nil
	})
}

// BusyboxRoot adds Debian's static busybox at /bin/busybox, a link for each
// of its applets in /bin, /tmp (1777), and /etc/passwd and /etc/group with
// the given lines.
func (t *Tree) BusyboxRoot(passwd, group string) error {
	data, err := os.ReadFile(Busybox)
	if err != nil {
		return fmt.Errorf("busybox: %w (install Debian's busybox-static)", err)
	}
	t.File("/bin/busybox", 0o755, data)
	for _, applet := range busyboxApplets {
		if _, ok := t.entries[clean("/bin/"+applet)]; !ok {
			t.Symlink("/bin/"+applet, "busybox")
		}
	}
	t.Dir("/tmp", 0o1777)
	t.File("/etc/passwd", 0o644, []byte(passwd))
	t.File("/etc/group", 0o644, []byte(group))
	return nil
}

// busyboxApplets are the applets the stand-ins' users call (shells, file
// and text tools); listing them keeps the layer independent of the busybox
// build's applet list.
var busyboxApplets = strings.Fields(`sh ash cat cp cut echo env false grep head id ln ls mkdir mktemp mv
	printf pwd readlink rm rmdir sed sleep sort tail tar tee test touch tr true uname wc wget which awk
	base64 gzip gunzip chmod chown date dirname basename find xargs expr seq stat du df ps kill`)

// Layer writes the tree as one layer: entries sorted, owned by root,
// mtime zero. compress selects gzip (registry images) or a plain tar (the
// engine's builtin content store takes either; plain is what Dagger ships).
func (t *Tree) Layer(compress bool) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(t.entries))
	for p := range t.entries {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		e := t.entries[p]
		hdr := e.hdr
		hdr.ModTime = time.Unix(0, 0)
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(&hdr); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		data := e.data
		if e.src != "" {
			var err error
			if data, err = os.ReadFile(e.src); err != nil {
				return nil, err
			}
			if int64(len(data)) != hdr.Size {
				return nil, fmt.Errorf("%s changed while the layer was written", e.src)
			}
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	if !compress {
		// A static layer's blob is the tar itself.
		return static.NewLayer(raw, types.OCIUncompressedLayer), nil
	}
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	return tarball.LayerFromOpener(opener, tarball.WithMediaType(types.OCILayer),
		tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithCompressedCaching)
}

// Config is the runtime configuration of a stand-in.
type Config struct {
	Env        []string
	WorkingDir string
	Entrypoint []string
	Cmd        []string
}

// Image returns a linux/amd64 OCI image of the layers with cfg.
func Image(cfg Config, layers ...v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, l := range layers {
		var err error
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "go-image test stand-in", Created: v1.Time{Time: time.Unix(0, 0).UTC()}}}); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Env = append([]string{"PATH=" + PATH}, cfg.Env...)
	cf.Config.WorkingDir = cfg.WorkingDir
	cf.Config.Entrypoint = cfg.Entrypoint
	cf.Config.Cmd = cfg.Cmd
	return mutate.ConfigFile(img, cf)
}

func clean(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

func (t *Tree) parents(p string) {
	for d := path.Dir(p); d != "." && d != "/" && d != ""; d = path.Dir(d) {
		if _, ok := t.entries[d]; ok {
			return
		}
		t.entries[d] = entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}}
	}
}

// CABundle is the host's CA bundle, which the stand-ins carry where their
// upstream image does (module downloads, registry pulls).
const CABundle = "/etc/ssl/certs/ca-certificates.crt"

const rootPasswd = "root:x:0:0:root:/root:/bin/sh\n"
const rootGroup = "root:x:0:\n"

// apkStub answers every apk call with the reason, so a path that installs
// packages fails with the cause instead of "not found".
const apkStub = "#!/bin/sh\necho \"apk: not in this stand-in (go-image's engine tests serve busybox-based images; see internal/e2e/standin)\" >&2\nexit 127\n"

// base is the busybox root every stand-in starts from, with the CA bundle.
func base(passwd, group string) (*Tree, error) {
	t := NewTree()
	if err := t.BusyboxRoot(passwd, group); err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(CABundle)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w (install Debian's ca-certificates)", err)
	}
	t.File(CABundle, 0o644, ca)
	t.Dir("/root", 0o700)
	return t, nil
}

// goroot adds the Go toolchain at /usr/local/go, without its own tests.
func goroot(t *Tree, dir string) error {
	return t.Copy(dir, "/usr/local/go", func(rel string) bool { return rel == "test" || strings.HasPrefix(rel, "pkg/obj") })
}

// Golang stands in for golang:<v>-alpine: busybox, the Go toolchain at
// goroot (GOTOOLCHAIN=local, as upstream), GOPATH=/go, the CA bundle.
func Golang(goroot, version string) (v1.Image, error) {
	t, err := base(rootPasswd, rootGroup)
	if err != nil {
		return nil, err
	}
	if err := addGo(t, goroot); err != nil {
		return nil, err
	}
	t.File("/sbin/apk", 0o755, []byte(apkStub))
	t.Dir("/go/bin", 0o777)
	t.Dir("/go/src", 0o777)
	l, err := t.Layer(true)
	if err != nil {
		return nil, err
	}
	return Image(Config{Env: []string{"GOLANG_VERSION=" + version, "GOTOOLCHAIN=local", "GOPATH=/go"}, WorkingDir: "/go", Cmd: []string{"/bin/sh"}}, l)
}

func addGo(t *Tree, dir string) error {
	if err := goroot(t, dir); err != nil {
		return fmt.Errorf("Go toolchain %s: %w", dir, err)
	}
	return nil
}

// Alpine stands in for alpine:<v>: busybox, alpine's root and nobody
// accounts, the CA bundle (alpine ships ca-certificates-bundle).
func Alpine() (v1.Image, error) {
	t, err := base("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
		"root:x:0:root\nnobody:x:65534:\n")
	if err != nil {
		return nil, err
	}
	t.File("/sbin/apk", 0o755, []byte(apkStub))
	l, err := t.Layer(true)
	if err != nil {
		return nil, err
	}
	return Image(Config{Cmd: []string{"/bin/sh"}}, l)
}

// Trivy stands in for aquasec/trivy:<v>: busybox and the trivy binary
// (built from the Go module proxy by ci/install-tools.sh) as entrypoint.
func Trivy(bin string) (v1.Image, error) {
	t, err := base(rootPasswd, rootGroup)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("trivy: %w (run ci/install-tools.sh)", err)
	}
	t.File("/usr/local/bin/trivy", 0o755, data)
	l, err := t.Layer(true)
	if err != nil {
		return nil, err
	}
	return Image(Config{Entrypoint: []string{"trivy"}}, l)
}

// GoSDK is the engine's Go SDK runtime image, which upstream builds from
// golang:<v>-alpine plus codegen: the Go toolchain, Dagger's codegen (of the
// engine's release) as entrypoint, and the module and build cache mount
// points. The engine loads it from its builtin content store by digest.
func GoSDK(goroot, codegen string) (v1.Image, error) {
	t, err := base(rootPasswd, rootGroup)
	if err != nil {
		return nil, err
	}
	if err := addGo(t, goroot); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(codegen)
	if err != nil {
		return nil, fmt.Errorf("codegen: %w (run ci/engine/engine.sh build)", err)
	}
	t.File("/usr/local/bin/codegen", 0o755, data)
	t.Dir("/go/pkg/mod", 0o755)
	t.Dir("/root/.cache/go-build", 0o755)
	l, err := t.Layer(false)
	if err != nil {
		return nil, err
	}
	return Image(Config{Env: []string{"GOPATH=/go", "CGO_ENABLED=0", "GOTOOLCHAIN=local"}, Entrypoint: []string{"/usr/local/bin/codegen"}}, l)
}
