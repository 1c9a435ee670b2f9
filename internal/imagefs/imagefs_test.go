package imagefs_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"

	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/imagetest"
)

func TestReadFlattensLayers(t *testing.T) {
	img := imagetest.Append(t, empty.Image,
		imagetest.File{Path: "/etc", Dir: true, Mode: 0o755},
		imagetest.File{Path: "/etc/passwd", Mode: 0o644, Data: []byte("lower")},
		imagetest.File{Path: "/etc/shadow", Mode: 0o600, Data: []byte("secret")},
		imagetest.File{Path: "/opt", Dir: true, Mode: 0o755},
		imagetest.File{Path: "/opt/old", Mode: 0o644, Data: []byte("x")},
		imagetest.File{Path: "/bin", Dir: true, Mode: 0o755},
		imagetest.File{Path: "/bin/app", Mode: 0o4755, UID: 1, GID: 2, Data: []byte("binary")},
	)
	img = imagetest.Append(t, img,
		imagetest.File{Path: "/etc/passwd", Mode: 0o644, Data: []byte("upper")},
		imagetest.File{Path: "/etc/.wh.shadow"},
		imagetest.File{Path: "/opt/.wh..wh..opq"},
		imagetest.File{Path: "/usr/bin/app", Symlink: "../../bin/app"},
		imagetest.File{Path: "/link", Symlink: "/usr/bin"},
	)
	ctx := context.Background()
	f, err := imagefs.Read(ctx, img, func(e imagefs.Entry) bool { return e.Path == "/etc/passwd" }, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Lookup("/etc/shadow"); ok {
		t.Error("/etc/shadow was whited out but is listed")
	}
	if _, ok := f.Lookup("/opt/old"); ok {
		t.Error("/opt/old is under an opaque directory but is listed")
	}
	b, err := f.ReadFile(ctx, "/etc/passwd")
	if err != nil || string(b) != "upper" {
		t.Errorf("ReadFile(/etc/passwd) = %q, %v; want the upper layer's copy", b, err)
	}
	// ".." is the parent of the directory reached, as in the kernel:
	// link/.. is /usr (link is /usr/bin), not the root.
	tests := []struct{ path, want string }{
		{"/bin/app", "/bin/app"},
		{"/usr/bin/app", "/bin/app"},
		{"/link/app", "/bin/app"},
		{"link/../bin/app", "/bin/app"},
		{"link/../link/app", ""},
		{"/usr", "/usr"},
		{"/usr/../bin/app", "/bin/app"},
		{"/nope/../bin/app", ""},
	}
	for _, tt := range tests {
		e, err := f.Resolve(tt.path)
		if tt.want == "" && !errors.Is(err, fs.ErrNotExist) || tt.want != "" && (err != nil || e.Path != tt.want) {
			t.Errorf("Resolve(%s) = %s, %v; want %q", tt.path, e.Path, err, tt.want)
		}
	}
	// Not kept: read lazily by a second walk.
	b, err = f.ReadFile(ctx, "/link/app")
	if err != nil || string(b) != "binary" {
		t.Errorf("ReadFile(/link/app) = %q, %v", b, err)
	}
	e, _ := f.Lookup("/bin/app")
	if e.Mode&fs.ModeSetuid == 0 || e.Mode.Perm() != 0o755 || e.UID != 1 || e.GID != 2 || e.Size != 6 {
		t.Errorf("/bin/app entry = %+v, want setuid 0755 uid 1 gid 2 size 6", e)
	}
	if _, err := f.ReadFile(ctx, "/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(/nope) err = %v, want ErrNotExist", err)
	}
}

func TestResolveLoop(t *testing.T) {
	img := imagetest.Append(t, empty.Image,
		imagetest.File{Path: "/a", Symlink: "/b"},
		imagetest.File{Path: "/b", Symlink: "/a"},
	)
	f, err := imagefs.Read(context.Background(), img, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Resolve("/a"); err == nil {
		t.Fatal("a symlink loop resolved")
	}
}
