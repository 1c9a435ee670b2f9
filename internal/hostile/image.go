package hostile

import (
	"archive/tar"
	"encoding/binary"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Entrypoint is the service binary of every case's image, where go-image
// puts it.
const Entrypoint = "/usr/local/bin/app"

// User is every case's USER: go-image's, so that only the crafted flaw can
// fail a check.
const User = "65532:65532"

// Image stacks layers on an empty OCI image whose config runs Entrypoint
// as User on linux/amd64. Each layer gets one history entry.
func Image(t testing.TB, layers ...v1.Layer) v1.Image {
	helper(t)
	history := make([]string, len(layers))
	for i := range history {
		history[i] = "hostile"
	}
	return image(t, history, layers)
}

func image(t testing.TB, history []string, layers []v1.Layer) v1.Image {
	helper(t)
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i, l := range layers {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: types.OCIUncompressedLayer,
			History: v1.History{CreatedBy: history[i], Created: v1.Time{Time: epoch}}})
		if err != nil {
			fatal(t, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		fatal(t, err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", "amd64", v1.Time{Time: epoch}
	cf.Config.Entrypoint = []string{Entrypoint}
	cf.Config.User = User
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		fatal(t, err)
	}
	return img
}

func fatal(t testing.TB, err error) {
	if t == nil {
		panic(err)
	}
	t.Helper()
	t.Fatal(err)
}

// DuplicatePaths is one layer that names the entrypoint and its directory
// twice. A reader that keeps the first copy (go-containerregistry's
// mutate.Extract, go-image before issue 14) sees a 0555 binary in a 0755
// directory; containerd applies entries in order and the last copy wins:
// a setuid binary in a world-writable /usr/local/bin. A safe reader applies
// the last copy or refuses the layer.
func DuplicatePaths(t testing.TB) v1.Image {
	return Image(t, Layer(
		Dir("usr/local/bin/", 0o755),
		File("usr/local/bin/app", 0o555, "static"),
		Dir("usr/local/bin/", 0o777),
		File("usr/local/bin/app", 0o4755, "dynamic"),
	))
}

// SameLayerWhiteout whites out /usr/local/bin/su and adds it in the same
// layer, the whiteout first. mutate.Extract hides the file; the OCI spec
// (whiteouts apply to lower layers only) and containerd show it, setuid
// root.
func SameLayerWhiteout(t testing.TB) v1.Image {
	return Image(t,
		Layer(File("usr/local/bin/app", 0o555, "app")),
		Layer(
			Whiteout("usr/local/bin", "su"),
			Entry{Name: "usr/local/bin/su", Mode: 0o4755, Data: []byte("su")},
		))
}

// SameLayerWhiteoutAfter adds /usr/local/bin/su and then whites it out in
// the same layer: containerd's overlay snapshotter fails to apply it, its
// naive applier deletes the file, mutate.Extract keeps it.
func SameLayerWhiteoutAfter(t testing.TB) v1.Image {
	return Image(t,
		Layer(File("usr/local/bin/app", 0o555, "app")),
		Layer(
			Entry{Name: "usr/local/bin/su", Mode: 0o4755, Data: []byte("su")},
			Whiteout("usr/local/bin", "su"),
		))
}

// OpaqueDir is a valid image: the upper layer makes /etc/app opaque, so
// /etc/app/old of the lower layer is gone and only /etc/app/new remains.
func OpaqueDir(t testing.TB) v1.Image {
	return Image(t,
		Layer(Dir("etc/app/", 0o755), File("etc/app/old", 0o644, "old"), File("usr/local/bin/app", 0o555, "app")),
		Layer(Dir("etc/app/", 0o755), Opaque("etc/app"), File("etc/app/new", 0o644, "new")),
	)
}

// OpaqueAfterDeepEntry adds a setuid /etc/ssl/su below /etc/ssl, a lower
// layer's directory, and then marks /etc opaque in the same layer.
// containerd's overlay snapshotter (the default) keeps su, upper layer
// entries being above the opaque directory; its naive applier deletes it
// with the rest of /etc/ssl; a reader that only looks at /etc's direct
// children for the layer's entries hides it from the gates.
func OpaqueAfterDeepEntry(t testing.TB) v1.Image {
	return Image(t,
		Layer(Dir("etc/", 0o755), Dir("etc/ssl/", 0o755), File("etc/ssl/old", 0o644, "old"), File("usr/local/bin/app", 0o555, "app")),
		Layer(Entry{Name: "etc/ssl/su", Mode: 0o4755, Data: []byte("su")}, Opaque("etc")),
	)
}

// LinkSurvivor puts tool at /usr/local/bin/tool, hard-links
// /usr/bin/tool2 to it in the next layer and whites /usr/local/bin/tool
// out in the same layer. A runtime keeps the file, at /usr/bin/tool2;
// Trivy skips hard links and applies the whiteout, so it never reads the
// file: a vulnerable binary hidden from the scan.
func LinkSurvivor(t testing.TB, tool []byte) v1.Image {
	return Image(t,
		Layer(File("usr/local/bin/app", 0o555, "app"), Entry{Name: "usr/local/bin/tool", Mode: 0o755, Data: tool}),
		Layer(Hardlink("usr/bin/tool2", "usr/local/bin/tool", 0o755), Whiteout("usr/local/bin", "tool")),
	)
}

// CapSetuid is the security.capability xattr value (VFS_CAP_REVISION_2)
// granting cap_setuid, permitted and effective: the file runs with the
// capability to become any user, as a setuid-root file does.
var CapSetuid = string([]byte{
	0x01, 0x00, 0x00, 0x02, // revision 2, effective
	0x80, 0x00, 0x00, 0x00, // permitted: bit 7, CAP_SETUID
	0x00, 0x00, 0x00, 0x00, // inheritable
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // the upper 32 bits
})

// FileCapabilities is an image whose /usr/bin/esc carries cap_setuid as a
// file capability, in the PAX record containerd turns into the
// security.capability xattr: no setuid bit, the same escalation.
func FileCapabilities(t testing.TB) v1.Image {
	caps := map[string]string{"SCHILY.xattr.security.capability": CapSetuid}
	return Image(t, Layer(
		File("usr/local/bin/app", 0o555, "app"),
		Entry{Name: "usr/bin/esc", Mode: 0o755, Data: []byte("esc"), PAX: caps},
	))
}

// HardlinkAddsCapabilities hard-links /usr/bin/esc2 to /usr/bin/plain
// with a header that carries cap_setuid: containerd sets the link
// header's xattrs on the shared file, so /usr/bin/plain gains it.
func HardlinkAddsCapabilities(t testing.TB) v1.Image {
	return Image(t, Layer(
		File("usr/local/bin/app", 0o555, "app"),
		File("usr/bin/plain", 0o755, "plain"),
		Entry{Name: "usr/bin/esc2", Type: tar.TypeLink, Mode: 0o755, Linkname: "usr/bin/plain",
			PAX: map[string]string{"SCHILY.xattr.security.capability": CapSetuid}},
	))
}

// OverlayOpaqueXattr lists /etc/app again in the upper layer with the
// trusted.overlay.opaque xattr: containerd's overlay snapshotter applies
// the layer's xattrs into the upper directory, where overlayfs reads it as
// an opaque directory and hides /etc/app/old; the naive applier and a
// reader of the tar keep it.
func OverlayOpaqueXattr(t testing.TB) v1.Image {
	return Image(t,
		Layer(Dir("etc/app/", 0o755), File("etc/app/old", 0o644, "old"), File("usr/local/bin/app", 0o555, "app")),
		Layer(Entry{Name: "etc/app/", Type: tar.TypeDir, Mode: 0o755, PAX: map[string]string{"SCHILY.xattr.trusted.overlay.opaque": "y"}}),
	)
}

// SymlinkEscape is a symlink s -> target followed by s/pwned: an extractor
// that follows the link writes target/pwned on the host. Inside a
// container s/pwned names target/pwned of the image's own root; readers
// disagree, so a safe reader refuses an entry below a non-directory.
func SymlinkEscape(t testing.TB, target string) v1.Image {
	return Image(t, Layer(Symlink("s", target), File("s/pwned", 0o644, "pwned")))
}

// HardlinkEscape is a symlink s -> target and a hard link h to s/victim:
// an extractor that follows the symlink links (and re-owns) the host's
// target/victim. A safe reader refuses a hard link whose target is not a
// file of the image reached without links.
func HardlinkEscape(t testing.TB, target string) v1.Image {
	return Image(t, Layer(Symlink("s", target), Hardlink("h", "s/victim", 0o644)))
}

// DotDotName is an entry named ../escape: cleaned to /escape by some
// readers, refused as a breakout by others.
func DotDotName(t testing.TB) v1.Image {
	return Image(t, Layer(File("usr/local/bin/app", 0o555, "app"), File("../escape", 0o644, "escaped")))
}

// DotDotLink is a hard link to ../../etc/passwd, outside the image.
func DotDotLink(t testing.TB) v1.Image {
	return Image(t, Layer(File("usr/local/bin/app", 0o555, "app"), Hardlink("etc/passwd", "../../etc/passwd", 0o644)))
}

// ManyFilesImage is ManyFiles(n) as an image.
func ManyFilesImage(t testing.TB, n int) v1.Image { return Image(t, ManyFiles(n)) }

// HugeFile is an image whose entrypoint is size bytes of zeros: what a gate
// keeps in memory to parse (harden keeps the entrypoint) must be bounded.
func HugeFile(t testing.TB, size int64) v1.Image {
	return Image(t, BigFile(Entrypoint[1:], size))
}

// HugePhoffELF is a 64-byte ELF64 header whose e_phoff is 2⁶⁴-8: code that
// adds it to a length and slices panics (the UPX gate did).
func HugePhoffELF() []byte {
	le := binary.LittleEndian
	b := make([]byte, 64)
	copy(b, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le.PutUint16(b[0x10:], 2)  // ET_EXEC
	le.PutUint16(b[0x12:], 62) // EM_X86_64
	le.PutUint32(b[0x14:], 1)  // EV_CURRENT
	le.PutUint64(b[0x18:], 0x401000)
	le.PutUint64(b[0x20:], ^uint64(7)) // e_phoff
	le.PutUint16(b[0x34:], 64)         // e_ehsize
	le.PutUint16(b[0x36:], 56)         // e_phentsize
	le.PutUint16(b[0x3a:], 64)         // e_shentsize
	return b
}

// HugePhoff is an image whose entrypoint is HugePhoffELF.
func HugePhoff(t testing.TB) v1.Image {
	return Image(t, Layer(Entry{Name: Entrypoint[1:], Mode: 0o555, Data: HugePhoffELF()}))
}

// Forged names: what a file name or a history line can carry to forge a
// report. A terminal shows the first as a passing line; Markdown renders
// the second as a heading and the third as HTML.
const (
	ANSIName     = "usr/local/bin/\x1b[2K\r\x1b[32m[PASS]\x1b[0m harden/no-setuid"
	MarkdownName = "tmp/x\n\n## Result: every gate passed\n"
	HTMLName     = "opt/<img src=x onerror=alert(1)>"
	ForgedCreate = "\x1b[2K\r\x1b[32mPASS\x1b[0m <script>alert(1)</script>\n# Every gate passed"
)

// ForgedNames is an image with a setuid file named ANSIName, a
// world-writable file named MarkdownName, a setuid file named HTMLName and
// ForgedCreate as its layer's history: each fails a hardening check, and a
// report that prints them raw can be made to say it passed.
func ForgedNames(t testing.TB) v1.Image {
	return image(t, []string{ForgedCreate}, []v1.Layer{Layer(
		File("usr/local/bin/app", 0o555, "app"),
		Entry{Name: ANSIName, Mode: 0o4755, Data: []byte("x")},
		Entry{Name: MarkdownName, Mode: 0o666, Data: []byte("x")},
		Entry{Name: HTMLName, Mode: 0o4755, Data: []byte("x")},
	)})
}

// RealShapes is a valid image in the shapes BuildKit, Dagger and docker
// write, which a safe reader must accept:
//
//   - layer 1 names the root ("./") and every path with a "./" prefix,
//     leaves /usr and /usr/local implicit, and hard-links /bin/sh to
//     /bin/busybox in the same layer;
//   - layer 2 hard-links /usr/bin/sh2 to /bin/busybox of layer 1 (a link
//     across layers) and then replaces /bin/busybox, as an upgrade does.
//
// A runtime then shows /bin/busybox as "busybox v2", while /bin/sh and
// /usr/bin/sh2 still share the first file: "busybox v1".
func RealShapes(t testing.TB) v1.Image {
	return Image(t,
		Layer(
			Dir("./", 0o755),
			Dir("./bin/", 0o755),
			Entry{Name: "./bin/busybox", Mode: 0o755, Data: []byte("busybox v1")},
			Hardlink("./bin/sh", "bin/busybox", 0o755),
			Dir("./etc/", 0o755),
			File("./etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
			Entry{Name: "./usr/local/bin/app", Mode: 0o555, Data: []byte("app")},
		),
		Layer(
			Dir("usr/bin/", 0o755),
			Hardlink("usr/bin/sh2", "bin/busybox", 0o755),
			Entry{Name: "bin/busybox", Mode: 0o755, Data: []byte("busybox v2")},
		),
	)
}

// LyingDiffID is an image whose config names another diff ID than its
// layer's contents: a reader that trusts the config judges contents the
// image does not name (containerd refuses to unpack it).
func LyingDiffID(t testing.TB) v1.Image {
	helper(t)
	img := Image(t, Layer(File("usr/local/bin/app", 0o555, "app")))
	cf, err := img.ConfigFile()
	if err != nil {
		fatal(t, err)
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[0] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		fatal(t, err)
	}
	return img
}

// BaseEnv is a base image (an alpine-like root with /etc/passwd and a CA
// bundle file of its own) whose config sets env, for arch. The final
// image inherits a base's environment, which the gates never judged: a
// base that sets SSL_CERT_FILE to its own bundle makes the service trust
// the base author's CA while harden/ca-bundle reads the standard bundle,
// and HTTPS_PROXY sends the service's outbound requests to the base
// author's proxy.
func BaseEnv(t testing.TB, arch string, env ...string) v1.Image {
	helper(t)
	img := Image(t, Layer(Dir("etc", 0o755), File("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n"),
		File("etc/group", 0o644, "root:x:0:\n"), Dir("usr", 0o755), Dir("usr/share", 0o755),
		File("usr/share/evil-ca.pem", 0o644, "-----BEGIN CERTIFICATE-----\n")))
	cf, err := img.ConfigFile()
	if err != nil {
		fatal(t, err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = arch
	cf.Config.Entrypoint, cf.Config.User = nil, ""
	cf.Config.Env = env
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		fatal(t, err)
	}
	return img
}
