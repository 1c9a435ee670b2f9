package harden_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/harden"
	"dagger/go-image/internal/imagetest"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
)

var _ gates.Gate = harden.Gate{}

type F = imagetest.File

// withBinary replaces the service binary, as a bad build would produce it.
func withBinary(t *testing.T, bin []byte) v1.Image {
	return imagetest.Append(t, imagetest.Compliant(t), F{Path: imagetest.ServicePath, Mode: 0o555, Data: bin})
}

func config(t *testing.T, edit func(*v1.Config)) v1.Image {
	return imagetest.Config(t, imagetest.Compliant(t), edit)
}

func certs(n int) []byte {
	var out bytes.Buffer
	rest := recipe.CABundle()
	for i := 0; i < n; i++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		pem.Encode(&out, b)
	}
	return out.Bytes()
}

func TestGate(t *testing.T) {
	tests := []struct {
		name string
		img  func(t *testing.T) v1.Image
		opts harden.Options
		// fails are the exact IDs that must fail; message is part of the
		// first one's message.
		fails   []string
		message string
	}{
		{name: "compliant", img: func(t *testing.T) v1.Image { return imagetest.Compliant(t) }},
		{name: "root user", img: func(t *testing.T) v1.Image { return config(t, func(c *v1.Config) { c.User = "0:0" }) },
			fails: []string{harden.UserNonroot}, message: `USER "0:0" runs as root (user 0); set USER 65532:65532`},
		{name: "root group", img: func(t *testing.T) v1.Image { return config(t, func(c *v1.Config) { c.User = "65532:0" }) },
			fails: []string{harden.UserNonroot}, message: "runs as root (group 0)"},
		{name: "no user", img: func(t *testing.T) v1.Image { return config(t, func(c *v1.Config) { c.User = "" }) },
			fails: []string{harden.UserNonroot}, message: "no USER: the container runs as root"},
		{name: "name user", img: func(t *testing.T) v1.Image { return config(t, func(c *v1.Config) { c.User = "nobody" }) },
			fails: []string{harden.UserNonroot}, message: `user "nobody" is a name, which Kubernetes runAsNonRoot cannot verify`},
		{name: "other numeric user", img: func(t *testing.T) v1.Image { return config(t, func(c *v1.Config) { c.User = "1000:1000" }) },
			fails: []string{harden.UserNonroot}, message: `not the expected 65532:65532`},
		{name: "expected user is configurable", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, config(t, func(c *v1.Config) { c.User = "1000:1000" }),
				F{Path: "/etc/passwd", Mode: 0o644, Data: []byte("app:x:1000:1000::/:/sbin/nologin\n")},
				F{Path: "/etc/group", Mode: 0o644, Data: []byte("app:x:1000:\n")})
		}, opts: harden.Options{User: "1000:1000"}},
		{name: "uid not in passwd", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0::/root:/sbin/nologin\n")})
		}, fails: []string{harden.UserNonroot}, message: "user 65532 has no entry in /etc/passwd"},
		{name: "gid not in group", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\n")})
		}, fails: []string{harden.UserNonroot}, message: "group 65532 has no entry in /etc/group"},
		// Without a readable account file the user cannot be checked, and
		// os/user lookups fail in the container: a failure, as documented.
		{name: "no /etc/passwd", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/etc/.wh.passwd"})
		}, fails: []string{harden.UserNonroot}, message: "user 65532 cannot be checked: /etc/passwd: file does not exist in the image"},
		{name: "no /etc/group", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/etc/.wh.group"})
		}, fails: []string{harden.UserNonroot}, message: "group 65532 cannot be checked: /etc/group: file does not exist"},
		{name: "/etc/passwd a dangling symlink", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/etc/passwd", Symlink: "/nowhere/passwd"})
		}, fails: []string{harden.UserNonroot}, message: "/nowhere/passwd: file does not exist in the image"},
		{name: "/etc/passwd a directory", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/etc/passwd", Dir: true, Mode: 0o755})
		}, fails: []string{harden.UserNonroot}, message: "/etc/passwd is not a regular file"},
		{name: "/etc/passwd oversized", img: func(t *testing.T) v1.Image {
			big := append(bytes.Repeat([]byte("#"+strings.Repeat("x", 99)+"\n"), 1<<20/100+1), "nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"...)
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/etc/passwd", Mode: 0o644, Data: big})
		}, fails: []string{harden.UserNonroot}, message: "over the 1048576-byte limit"},
		{name: "/etc/passwd through a symlink", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t),
				F{Path: "/usr/share/passwd", Mode: 0o644, Data: []byte("nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n")},
				F{Path: "/etc/passwd", Symlink: "../usr/share/passwd"})
		}},
		{name: "shell form", img: func(t *testing.T) v1.Image {
			return config(t, func(c *v1.Config) { c.Entrypoint = []string{"/bin/sh", "-c", imagetest.ServicePath} })
		}, fails: []string{harden.Entrypoint, harden.StaticBinary, harden.Stripped, harden.BuildInfo}, message: "is shell form"},
		{name: "cmd only", img: func(t *testing.T) v1.Image {
			return config(t, func(c *v1.Config) { c.Entrypoint, c.Cmd = nil, []string{imagetest.ServicePath} })
		}, fails: []string{harden.Entrypoint, harden.StaticBinary, harden.Stripped, harden.BuildInfo}, message: "no ENTRYPOINT, only CMD"},
		{name: "missing entrypoint", img: func(t *testing.T) v1.Image {
			return config(t, func(c *v1.Config) { c.Entrypoint = []string{"/usr/local/bin/nope"} })
		}, fails: []string{harden.Entrypoint, harden.StaticBinary, harden.Stripped, harden.BuildInfo}, message: "/usr/local/bin/nope does not exist in the image"},
		{name: "entrypoint not executable", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: imagetest.ServicePath, Mode: 0o444, Data: imagetest.Service(t, imagetest.Recipe)})
		}, fails: []string{harden.Entrypoint}, message: "is not executable (mode 0444): chmod 0555"},
		{name: "symlinked entrypoint on PATH", img: func(t *testing.T) v1.Image {
			img := imagetest.Append(t, imagetest.Compliant(t), F{Path: "/app", Symlink: imagetest.ServicePath})
			return imagetest.Config(t, img, func(c *v1.Config) {
				c.Entrypoint = []string{"service"}
				c.Env = []string{"PATH=/nowhere:/usr/local/bin"}
			})
		}},
		{name: "dynamic binary", img: func(t *testing.T) v1.Image {
			ls, err := os.ReadFile("/bin/ls")
			if err != nil {
				t.Skipf("SKIP: no /bin/ls to stand in for a dynamic binary: %v", err)
			}
			return withBinary(t, ls)
		}, fails: []string{harden.StaticBinary, harden.BuildInfo}, message: "is dynamically linked (interpreter /lib"},
		{name: "cgo binary", img: func(t *testing.T) v1.Image { return withBinary(t, imagetest.Service(t, imagetest.Cgo)) },
			fails: []string{harden.StaticBinary, harden.BuildInfo}, message: "build with CGO_ENABLED=0"},
		{name: "unstripped", img: func(t *testing.T) v1.Image { return withBinary(t, imagetest.Service(t, imagetest.Unstripped)) },
			fails: []string{harden.Stripped}, message: `is not stripped (.debug_`},
		{name: "no trimpath", img: func(t *testing.T) v1.Image { return withBinary(t, imagetest.Service(t, imagetest.NoTrimpath)) },
			fails: []string{harden.BuildInfo}, message: "built without -trimpath (builder paths are embedded); build with -trimpath"},
		{name: "script entrypoint", img: func(t *testing.T) v1.Image { return withBinary(t, []byte("#!/bin/sh\nexec app\n")) },
			fails: []string{harden.StaticBinary, harden.Stripped, harden.BuildInfo}, message: "not an ELF binary"},
		{name: "no CA bundle", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/etc/ssl/certs/.wh.ca-certificates.crt"})
		}, fails: []string{harden.CABundle}, message: "no CA bundle at /etc/ssl/certs/ca-certificates.crt"},
		{name: "truncated CA bundle", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: recipe.CABundlePath, Mode: 0o644, Data: certs(3)})
		}, fails: []string{harden.CABundle}, message: "holds 3 certificate(s), fewer than 10"},
		{name: "corrupt CA bundle", img: func(t *testing.T) v1.Image {
			bad := append(certs(12), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})...)
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: recipe.CABundlePath, Mode: 0o644, Data: bad})
		}, fails: []string{harden.CABundle}, message: "certificate #13 does not parse"},
		{name: "min certs is configurable", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: recipe.CABundlePath, Mode: 0o644, Data: certs(3)})
		}, opts: harden.Options{MinCerts: 3}},
		{name: "toolchain left in", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t),
				F{Path: "/usr/local/go/bin/go", Mode: 0o755, Data: []byte("\x7fELF")},
				F{Path: "/usr/local/go/pkg/tool/linux_amd64/compile", Mode: 0o755, Data: []byte("\x7fELF")})
		}, fails: []string{harden.NoToolchain}, message: "/usr/local/go (GOROOT tree)"},
		{name: "go binary elsewhere", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/opt/sdk/bin/go", Mode: 0o755, Data: []byte("\x7fELF")})
		}, fails: []string{harden.NoToolchain}, message: "/opt/sdk/bin/go (go binary)"},
		{name: "source left in", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t),
				F{Path: "/src/main.go", Mode: 0o644, Data: []byte("package main")},
				F{Path: "/src/go.mod", Mode: 0o644, Data: []byte("module x")})
		}, fails: []string{harden.NoSource}, message: "2 file(s), e.g. /src/go.mod, /src/main.go"},
		{name: "setuid file", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/usr/bin/su", Mode: 0o4755, Data: []byte("x")})
		}, fails: []string{harden.NoSetuid}, message: "/usr/bin/su (setuid uid 0, mode 4755); remove the chmod u+s"},
		{name: "setgid file", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/usr/bin/wall", Mode: 0o2755, GID: 5, Data: []byte("x")})
		}, fails: []string{harden.NoSetuid}, message: "/usr/bin/wall (setgid gid 5, mode 2755)"},
		{name: "setgid directory is fine", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/var/mail", Dir: true, Mode: 0o2775})
		}},
		{name: "world-writable file", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/data/state.json", Mode: 0o666, Data: []byte("{}")})
		}, fails: []string{harden.NoWorldWritable}, message: "/data/state.json (file, mode 0666); chmod o-w"},
		{name: "world-writable directory", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/cache", Dir: true, Mode: 0o777})
		}, fails: []string{harden.NoWorldWritable}, message: "/cache (directory, mode 0777)"},
		{name: "sticky /tmp is allowed", img: func(t *testing.T) v1.Image {
			return imagetest.Append(t, imagetest.Compliant(t), F{Path: "/tmp", Dir: true, Mode: 0o1777})
		}},
		{name: "skip with a reason", img: func(t *testing.T) v1.Image { return config(t, func(c *v1.Config) { c.User = "0" }) },
			opts: harden.Options{Skip: map[string]string{harden.UserNonroot: "init container needs root"}}},
		{name: "skipped entrypoint still checks the binary", img: func(t *testing.T) v1.Image { return withBinary(t, imagetest.Service(t, imagetest.Unstripped)) },
			opts:  harden.Options{Skip: map[string]string{harden.Entrypoint: "reviewed"}},
			fails: []string{harden.Stripped}, message: "not stripped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := harden.New(tt.opts).Check(context.Background(), tt.img(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != len(harden.IDs()) {
				t.Fatalf("%d results, want one per check (%d)", len(rs), len(harden.IDs()))
			}
			var failed []string
			byID := map[string]report.Result{}
			for i, r := range rs {
				if r.ID != harden.IDs()[i] || r.Gate != "harden" {
					t.Errorf("result %d is %s/%s, want harden/%s", i, r.Gate, r.ID, harden.IDs()[i])
				}
				byID[r.ID] = r
				if r.Status == report.Fail {
					failed = append(failed, r.ID)
				} else if r.Message == "" {
					t.Errorf("%s: %s with no message", r.ID, r.Status)
				}
			}
			want := append([]string(nil), tt.fails...)
			sort.Strings(want)
			sort.Strings(failed)
			if strings.Join(failed, " ") != strings.Join(want, " ") {
				for _, r := range rs {
					t.Logf("%s %s %s", r.Status, r.ID, r.Message)
				}
				t.Fatalf("failed = %v, want %v", failed, want)
			}
			if len(tt.fails) > 0 {
				if msg := byID[tt.fails[0]].Message; !strings.Contains(msg, tt.message) {
					t.Errorf("%s message = %q, want it to contain %q", tt.fails[0], msg, tt.message)
				}
			}
			for id, reason := range tt.opts.Skip {
				if r := byID[id]; r.Status != report.Skipped || !strings.Contains(r.Message, reason) {
					t.Errorf("%s = %s %q, want skipped with the reason", id, r.Status, r.Message)
				}
			}
		})
	}
}

func TestParseSkip(t *testing.T) {
	got, err := harden.ParseSkip([]string{"harden/no-setuid=base ships ping", "harden/stripped = profiling build"})
	if err != nil || got[harden.NoSetuid] != "base ships ping" || got[harden.Stripped] != "profiling build" {
		t.Errorf("ParseSkip = %v, %v", got, err)
	}
	for _, bad := range []struct{ in, want string }{
		{"harden/no-setuid", "want id=reason"},
		{"harden/no-setuid=", "want id=reason"},
		{"harden/nope=x", "unknown check \"harden/nope\"; skippable checks: harden/user-nonroot"},
	} {
		if _, err := harden.ParseSkip([]string{bad.in}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseSkip(%q) err = %v, want %q", bad.in, err, bad.want)
		}
	}
}
