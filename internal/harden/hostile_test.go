package harden_test

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"dagger/go-image/internal/harden"
	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/limits"
	"dagger/go-image/internal/report"
)

// TestHugeEntrypoint: an entrypoint over the kept-file limit
// (limits.Kept, tightened here to 1 MiB for an 8 MiB file) is never read
// into memory; the checks that parse it fail, naming the limit.
func TestHugeEntrypoint(t *testing.T) {
	ctx := limits.With(context.Background(), limits.Limits{Kept: 1 << 20})
	res, err := harden.New(harden.Options{}).Check(ctx, hostile.HugeFile(t, 8<<20))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.ID == harden.StaticBinary && (r.Status != report.Fail || !strings.Contains(r.Message, "over the 1 MiB limit")) {
			t.Errorf("%s: %s %q, want a failure naming the limit", r.ID, r.Status, r.Message)
		}
	}
}

// TestEntrypointResolvedAsTheRuntimeDoes: a relative ENTRYPOINT with a
// slash is relative to the working directory (runc's exec.LookPath), not
// looked up on PATH, and a bare name finds the first executable file on
// PATH, and ".." is the parent of the directory a symlink led to. harden
// judged a decoy on PATH or at the lexically cleaned path, or a
// non-executable file the runtime passes over.
func TestEntrypointResolvedAsTheRuntimeDoes(t *testing.T) {
	layer := hostile.Layer(
		hostile.File("decoy/bin/app", 0o555, "decoy"),
		hostile.File("opt/bin/app", 0o555, "runs"),
		hostile.File("first/svc", 0o644, "not executable"),
		hostile.File("second/svc", 0o555, "runs"),
		hostile.Dir("deep/dir/", 0o755),
		hostile.File("deep/real", 0o555, "runs"),
		hostile.File("real", 0o555, "decoy"),
		hostile.Symlink("x", "/deep/dir"),
		hostile.Symlink("usr/local/bin/link", "/x/../real"),
	)
	for _, tt := range []struct {
		name, workdir, want string
		entrypoint          []string
	}{
		{"relative with a slash", "/opt", "/opt/bin/app", []string{"bin/app"}},
		{"relative with a slash, workdir not absolute", "opt", "/opt/bin/app", []string{"./bin/app"}},
		{"a bare name", "/", "/second/svc", []string{"svc"}},
		// /x is /deep/dir: the kernel's /x/.. is /deep, a lexical clean's /.
		{"'..' after a symlink", "/", "/deep/real", []string{"/x/../real"}},
		{"a symlink to '..' after a symlink", "/", "/deep/real", []string{"/usr/local/bin/link"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img := hostile.Image(t, layer)
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			cf = cf.DeepCopy()
			cf.Config.Entrypoint, cf.Config.WorkingDir = tt.entrypoint, tt.workdir
			cf.Config.Env = []string{"PATH=/decoy:/first:/second"}
			if img, err = mutate.ConfigFile(img, cf); err != nil {
				t.Fatal(err)
			}
			res, err := harden.New(harden.Options{}).Check(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.ID == harden.Entrypoint && !strings.Contains(r.Message, tt.want+" ") {
					t.Errorf("%s: %s %q, want %s judged", r.ID, r.Status, r.Message, tt.want)
				}
			}
		})
	}
}

// TestFileCapabilities: a file with cap_setuid as a file capability (the
// security.capability xattr containerd sets from a PAX record) is setuid
// root without the bit: harden/no-setuid passed it, and fails it now.
func TestFileCapabilities(t *testing.T) {
	for _, tt := range []struct {
		name string
		img  func(testing.TB) v1.Image
		want report.Status
	}{
		{"cap_setuid on /usr/bin/esc", hostile.FileCapabilities, report.Fail},
		{"no capabilities", func(t testing.TB) v1.Image { return hostile.OpaqueDir(t) }, report.Pass},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := harden.New(harden.Options{}).Check(context.Background(), tt.img(t))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range res {
				if r.ID != harden.NoSetuid {
					continue
				}
				found = true
				if r.Status != tt.want || tt.want == report.Fail && !strings.Contains(r.Message, "/usr/bin/esc (file capabilities") {
					t.Errorf("%s: %s %q, want %s naming the file", r.ID, r.Status, r.Message, tt.want)
				}
			}
			if !found {
				t.Errorf("no %s result", harden.NoSetuid)
			}
		})
	}
}
