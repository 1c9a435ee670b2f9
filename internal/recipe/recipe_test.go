package recipe

import (
	"crypto/x509"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name    string
		in      Options
		want    Options
		wantErr string
	}{
		{"defaults", Options{}, Options{Main: ".", Name: "app", GoVersion: DefaultGoVersion, Platform: "linux/amd64", Base: Scratch, VersionVar: DefaultVersionVar}, ""},
		{"main dir names binary", Options{Main: "cmd/api"}, Options{Main: "./cmd/api", Name: "api", GoVersion: DefaultGoVersion, Platform: "linux/amd64", Base: Scratch, VersionVar: DefaultVersionVar}, ""},
		{"arm gets v7", Options{Name: "x", Platform: "linux/arm"}, Options{Main: ".", Name: "x", GoVersion: DefaultGoVersion, Platform: "linux/arm/v7", Base: Scratch, VersionVar: DefaultVersionVar}, ""},
		{"alpine", Options{Name: "x", Base: Alpine}, Options{Main: ".", Name: "x", GoVersion: DefaultGoVersion, Platform: "linux/amd64", Base: Alpine, VersionVar: DefaultVersionVar}, ""},
		{"unknown base", Options{Base: "ubuntu"}, Options{}, `base "ubuntu": unknown base image; use "scratch" or "alpine"`},
		{"windows", Options{Platform: "windows/amd64"}, Options{}, "only linux images"},
		{"bad arch", Options{Platform: "linux/mips"}, Options{}, `unsupported architecture "mips"`},
		{"bad platform", Options{Platform: "amd64"}, Options{}, "want os/arch"},
		{"main outside source", Options{Main: "../other"}, Options{}, "inside the source directory"},
		{"absolute main", Options{Main: "/src/cmd"}, Options{}, "inside the source directory"},
		{"bad name", Options{Name: "my app"}, Options{}, "binary name"},
		// A main package's directory names the binary, the image's
		// repository through {name}, and DIR/NAME.tar: a registry refuses
		// a repository name over 255 bytes only at the push, after the
		// binaries before it were uploaded.
		{"longest name", Options{Name: strings.Repeat("a", MaxNameLen)}, Options{Main: ".", Name: strings.Repeat("a", MaxNameLen), GoVersion: DefaultGoVersion, Platform: "linux/amd64", Base: Scratch, VersionVar: DefaultVersionVar}, ""},
		{"name too long", Options{Main: "./cmd/" + strings.Repeat("a", MaxNameLen+1)}, Options{}, "binary name of 129 bytes, at most 128"},
		{"bad go version", Options{GoVersion: "latest"}, Options{}, "go version"},
		{"bad version var", Options{VersionVar: "version"}, Options{}, "importpath.name"},
		{"quote in version", Options{Version: `1.0"; rm`}, Options{}, "spaces or quotes"},
		{"external linking", Options{Ldflags: []string{"-linkmode=external"}}, Options{}, "CGO_ENABLED=0"},
		{"negative epoch", Options{SourceDateEpoch: -1}, Options{}, "not negative"},
		{"epoch past year 9999", Options{SourceDateEpoch: 253402300800}, Options{}, "after 9999-12-31"},
		{"epoch at the last second of 9999", Options{SourceDateEpoch: 253402300799}, Options{Main: ".", Name: "app", GoVersion: DefaultGoVersion, Platform: "linux/amd64", Base: Scratch, VersionVar: DefaultVersionVar}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Normalize()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Main != tt.want.Main || got.Name != tt.want.Name || got.GoVersion != tt.want.GoVersion ||
				got.Platform != tt.want.Platform || got.Base != tt.want.Base || got.VersionVar != tt.want.VersionVar {
				t.Errorf("Normalize() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name     string
		in       Options
		wantArgs []string
		wantEnv  []string
	}{
		{
			"hardening flags",
			Options{Name: "svc"},
			[]string{"go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", "/out/svc", "."},
			[]string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=readonly"},
		},
		{
			"version injection, user ldflags after, tags",
			Options{Main: "./cmd/api", Version: "1.2.3", VersionVar: "example.com/x/version.V", Ldflags: []string{"-X main.commit=abc"}, Tags: []string{"netgo", "osusergo"}},
			[]string{"go", "build", "-trimpath", "-buildvcs=false", "-tags=netgo,osusergo", "-ldflags=-s -w -X example.com/x/version.V=1.2.3 -X main.commit=abc", "-o", "/out/svc", "./cmd/api"},
			[]string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=readonly"},
		},
		{
			"cross compile arm",
			Options{Platform: "linux/arm/v6"},
			[]string{"go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", "/out/svc", "."},
			[]string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOFLAGS=-mod=readonly", "GOARM=6"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.in.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			c := o.Compile("/out/svc")
			if !slices.Equal(c.Args, tt.wantArgs) {
				t.Errorf("args:\n got %q\nwant %q", c.Args, tt.wantArgs)
			}
			if !slices.Equal(c.Env, tt.wantEnv) {
				t.Errorf("env:\n got %q\nwant %q", c.Env, tt.wantEnv)
			}
		})
	}
}

func TestFiles(t *testing.T) {
	o, err := Options{Name: "svc"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	files, err := o.Files("", "", []byte("\x7fELF"))
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]File{}
	var paths []string
	for _, f := range files {
		byPath[f.Path] = f
		paths = append(paths, f.Path)
	}
	if !slices.IsSorted(paths) {
		t.Errorf("files not sorted: %v", paths)
	}
	want := []string{"/etc", "/etc/group", "/etc/passwd", "/etc/ssl", "/etc/ssl/certs", CABundlePath, "/home", HomeDir, "/usr", "/usr/local", BinDir, "/usr/local/bin/svc"}
	slices.Sort(want)
	if !slices.Equal(paths, want) {
		t.Fatalf("paths:\n got %v\nwant %v", paths, want)
	}
	bin := byPath["/usr/local/bin/svc"]
	if bin.Mode != 0o555 || bin.UID != 0 || string(bin.Data) != "\x7fELF" {
		t.Errorf("binary = mode %o uid %d, want 0555 root-owned", bin.Mode, bin.UID)
	}
	if home := byPath[HomeDir]; home.UID != UID || home.GID != GID || !home.Dir {
		t.Errorf("home = %+v, want a dir owned by %d:%d", home, UID, GID)
	}
	if !strings.Contains(string(byPath[PasswdPath].Data), "nonroot:x:65532:65532:") {
		t.Errorf("passwd has no 65532 entry:\n%s", byPath[PasswdPath].Data)
	}
	if !strings.Contains(string(byPath[GroupPath].Data), "nonroot:x:65532:") {
		t.Errorf("group has no 65532 entry:\n%s", byPath[GroupPath].Data)
	}
}

func TestPasswdMergesWithBase(t *testing.T) {
	alpine := "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"
	tests := []struct {
		name, base, wantErr string
		wantLines           int
	}{
		{"scratch", "", "", 2},
		{"alpine keeps its accounts", alpine, "", 3},
		{"no trailing newline", strings.TrimSuffix(alpine, "\n"), "", 3},
		{"already present is idempotent", alpine + "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n", "", 3},
		{"uid taken by another account", alpine + "app:x:65532:65532::/:/bin/sh\n", "conflicts", 0},
		{"name taken with another uid", alpine + "nonroot:x:1000:1000::/:/bin/sh\n", "conflicts", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Passwd(tt.base)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(got, "\n"); n != tt.wantLines {
				t.Errorf("got %d lines, want %d:\n%s", n, tt.wantLines, got)
			}
		})
	}
}

func TestImageConfig(t *testing.T) {
	o, err := Options{Name: "svc", Version: "1.2.3", Revision: "abc", Source: "https://example.com/svc", SourceDateEpoch: 1700000000,
		Labels: map[string]string{"team": "payments", "org.opencontainers.image.title": "override"}}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	c := o.ImageConfig()
	if c.User != "65532:65532" {
		t.Errorf("user = %q", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/svc"}) {
		t.Errorf("entrypoint = %q, want exec form of the binary", c.Entrypoint)
	}
	want := map[string]string{
		"org.opencontainers.image.version":  "1.2.3",
		"org.opencontainers.image.revision": "abc",
		"org.opencontainers.image.source":   "https://example.com/svc",
		"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
		"org.opencontainers.image.title":    "override",
		"team":                              "payments",
	}
	for k, v := range want {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
}

func TestCABundle(t *testing.T) {
	b := CABundle()
	n := 0
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Fatalf("certificate %d: %v", n, err)
		}
		n++
	}
	if n < 100 {
		t.Errorf("bundle has %d certificates, want the NSS roots (over 100)", n)
	}
	if len(b) != 0 {
		t.Errorf("trailing bytes after PEM blocks")
	}
}

func TestDefaultName(t *testing.T) {
	tests := []struct{ main, mod, want string }{
		{".", "example.com/service", "service"},
		{".", "example.com/service/v2", "service"},
		{"./cmd/api", "example.com/service", "api"},
		{".", "", "app"},
	}
	for _, tt := range tests {
		if got := DefaultName(tt.main, tt.mod); got != tt.want {
			t.Errorf("DefaultName(%q, %q) = %q, want %q", tt.main, tt.mod, got, tt.want)
		}
	}
}

func TestParsePlatforms(t *testing.T) {
	ps, err := ParsePlatforms("linux/amd64, linux/arm64")
	if err != nil || len(ps) != 2 || ps[1].Arch != "arm64" {
		t.Fatalf("ParsePlatforms = %v, %v", ps, err)
	}
	for _, bad := range []string{"", "linux/amd64,linux/amd64", "linux/amd64,darwin/arm64"} {
		if _, err := ParsePlatforms(bad); err == nil {
			t.Errorf("ParsePlatforms(%q) accepted", bad)
		}
	}
}

func TestGoVersionOf(t *testing.T) {
	for _, tc := range []struct{ gomod, want string }{
		{"module m\n\ngo 1.24\n", "1.24"},
		{"module m\n\ngo 1.24.3\n", "1.24"},
		{"module m\n\ngo 1.27rc1\n", "1.27rc1"},
		{"module m\n\ngo 1.24\n\ntoolchain go1.26.8\n", "1.26.8"},
		{"module m\n\ngo 1.24\n\ntoolchain default\n", "1.24"},
		{"module m\n", DefaultGoVersion},
	} {
		got, err := GoVersionOf([]byte(tc.gomod))
		if err != nil || got != tc.want {
			t.Errorf("GoVersionOf(%q) = %q, %v; want %q", tc.gomod, got, err, tc.want)
		}
	}
	if _, err := GoVersionOf([]byte("module\n")); err == nil {
		t.Error("a go.mod that does not parse: want an error")
	}
}

func TestBaseName(t *testing.T) {
	for _, tc := range []struct{ ref, name, digest string }{
		{"alpine:3.22", "docker.io/library/alpine:3.22", ""},
		{"docker.io/library/alpine:3.22@sha256:" + strings.Repeat("a", 64), "docker.io/library/alpine:3.22", "sha256:" + strings.Repeat("a", 64)},
		{"127.0.0.1:5000/library/alpine:3.22", "127.0.0.1:5000/library/alpine:3.22", ""},
		{"alpine", "docker.io/library/alpine:latest", ""},
	} {
		got, err := BaseName(tc.ref)
		if err != nil || got != tc.name || BaseDigest(tc.ref) != tc.digest {
			t.Errorf("BaseName(%q) = %q, %v, digest %q; want %q, %q", tc.ref, got, err, BaseDigest(tc.ref), tc.name, tc.digest)
		}
	}
	if _, err := BaseName("Alpine:3.22"); err == nil {
		t.Error("an upper-case repository: want an error")
	}
}

// Every recipe input that reaches the go build command line or a label
// refuses control and invisible characters, naming the field, before
// anything is compiled. The first case injected linker flags: go build
// splits -ldflags on '\r'.
func TestNormalizeRefusesControlCharacters(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      Options
		wantErr string
	}{
		{"CR in version injects -X", Options{Version: "1.0\r-X\rmain.injected=x"}, `version "1.0\r-X\rmain.injected=x": control or invisible character U+000D at byte 3`},
		{"tab in version", Options{Version: "1.0\t-X"}, "version"},
		{"newline in version", Options{Version: "1.0\n"}, "U+000A"},
		{"ESC in version", Options{Version: "1.0\x1b[2K"}, "U+001B"},
		{"CR in version var", Options{VersionVar: "main.v\r"}, "version variable"},
		{"CR in ldflag", Options{Ldflags: []string{"-X\rmain.a=b"}}, `ldflag "-X\rmain.a=b"`},
		{"NUL in ldflag", Options{Ldflags: []string{"-s\x00"}}, "U+0000"},
		{"space in tag", Options{Tags: []string{"netgo osusergo"}}, `build tag "netgo osusergo"`},
		{"CR in tag", Options{Tags: []string{"a\rb"}}, `build tag "a\rb": control`},
		{"flag in tag", Options{Tags: []string{"-toolexec=x"}}, "build tag"},
		{"ESC in label value", Options{Labels: map[string]string{"team": "a\x1b]8;;x\x07"}}, `label "team" "a\x1b]8;;x\a"`},
		{"bidi override in label value", Options{Labels: map[string]string{"team": "pay\u202estnem"}}, "U+202E"},
		{"newline in label key", Options{Labels: map[string]string{"a\nb": "x"}}, `label key "a\nb"`},
		{"DEL in source URL", Options{Source: "https://x\x7f"}, "source URL"},
		{"C1 in revision", Options{Revision: "abc\u0085"}, "revision"},
		{"zero-width space in main", Options{Main: "./cmd/\u200bapi"}, "main package"},
		{"CR in name", Options{Name: "app\r"}, "binary name"},
		{"CR in platform", Options{Platform: "linux/amd64\r"}, "platform"},
		{"CR in go version", Options{GoVersion: "1.26\r"}, "go version"},
		{"invalid UTF-8", Options{Version: "1.0\xff"}, "byte 0xff that is not UTF-8 at byte 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.in.Normalize()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if strings.ContainsAny(err.Error(), "\r\x1b\x00") {
				t.Errorf("the error itself carries the control character: %q", err)
			}
		})
	}
	// Printable text in any script, and tag lists, still pass.
	ok := Options{Version: "1.2.3-rc.1+build.5", Tags: []string{"netgo,osusergo", "x.y"},
		Labels: map[string]string{"org.opencontainers.image.description": "Dienst für Zahlungen — 決済", "team": "a=b"},
		Source: "https://example.com/x?y=1&z=2", Revision: "0123abc"}
	if _, err := ok.Normalize(); err != nil {
		t.Fatalf("printable inputs refused: %v", err)
	}
}

func TestParseLabels(t *testing.T) {
	got, err := ParseLabels([]string{"team=payments", "a=b=c", "empty="})
	if err != nil || got["team"] != "payments" || got["a"] != "b=c" || got["empty"] != "" || len(got) != 3 {
		t.Fatalf("ParseLabels = %v, %v", got, err)
	}
	for _, bad := range []string{"novalue", "=x"} {
		if _, err := ParseLabels([]string{bad}); err == nil || !strings.Contains(err.Error(), "want key=value") {
			t.Errorf("ParseLabels(%q) err = %v", bad, err)
		}
	}
	if got, err := ParseLabels(nil); got != nil || err != nil {
		t.Errorf("ParseLabels(nil) = %v, %v", got, err)
	}
}

// The lint loads the packages with Packages and the compile builds with
// Compile: the compile must add only the linker's flags and its output,
// or the lint's type-checker misses the export data the compile left in
// the build cache and compiles everything again.
func TestCompileIsPackagesPlusLink(t *testing.T) {
	for _, in := range []Options{{}, {Tags: []string{"netgo", "osusergo"}, Version: "1"}, {Platform: "linux/arm/v7"}} {
		o, err := in.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		pk, c := o.Packages(), o.Compile("/out/svc")
		want := append(append([]string{"go", "build"}, pk.Args...), "-ldflags="+o.LdflagsString(), "-o", "/out/svc", o.Main)
		if !slices.Equal(c.Args, want) || !slices.Equal(c.Env, pk.Env) {
			t.Errorf("%+v: compile %q %q, want %q %q (Packages plus the link)", in, c.Args, c.Env, want, pk.Env)
		}
	}
}

// TestHostileLdflags: linker flags come from go-image.yaml, which arrives
// with the code under review. go build hands the linker whatever fields
// -ldflags splits into, after its own -o: a later -o wins, and the linker
// writes the binary wherever it says (tried: -o /tmp/x wrote an
// executable there, then go build failed). Only the flags a service's
// build needs pass, read as go build and the linker read them.
func TestHostileLdflags(t *testing.T) {
	tests := []struct {
		name    string
		ldflags []string
		wantErr string
	}{
		{"-o writes the binary anywhere", []string{"-o /home/runner/go/bin/git"}, "linker flag -o is not allowed"},
		{"-o as its own entry", []string{"-o", "/tmp/x"}, "linker flag -o is not allowed"},
		{"-o after an -X", []string{"-X main.a=b -o=/tmp/x"}, "linker flag -o is not allowed"},
		{"--o", []string{"--o=/tmp/x"}, "linker flag -o is not allowed"},
		{"-o hidden in a quoted -X value's neighbour", []string{"-X 'main.a=b c' -o /tmp/x"}, "linker flag -o is not allowed"},
		{"a profile written anywhere", []string{"-cpuprofile=/etc/cron.d/x"}, "linker flag -cpuprofile is not allowed"},
		{"a file read", []string{"-importcfg /etc/shadow"}, "linker flag -importcfg is not allowed"},
		{"a program run", []string{"-extld=/tmp/evil"}, "CGO_ENABLED=0"},
		{"a program run, after inert extldflags", []string{"-extldflags -static -extld /tmp/evil"}, "CGO_ENABLED=0"},
		{"external linking, two fields", []string{"-linkmode external"}, "CGO_ENABLED=0"},
		{"a field that ends the flags", []string{"-s /tmp/x.a"}, `"/tmp/x.a" is not a linker flag`},
		{"-X swallowing a flag", []string{"-X", "-o"}, `-X "-o": want importpath.name=value`},
		{"-X without a value", []string{"-X"}, "-X needs a value"},
		{"a bool with a path", []string{"-s=/tmp/x"}, "takes true or false"},
		{"an unbalanced quote", []string{"-X 'main.a=b"}, "unterminated ' string"},
		{"a quote closed in the next entry", []string{"-X 'main.a=b", "c' -o /tmp/x"}, "unterminated ' string"},
		{"--", []string{"-- -o /tmp/x"}, `"--" is not a linker flag`},
		// The build info is written from these: Trivy, the SBOM and the
		// provenance read a forged Go version and module list.
		{"-X forging the Go version", []string{"-X runtime.buildVersion=go1.99.0"}, "-X runtime.buildVersion sets the Go runtime's own data"},
		{"-X erasing the module list", []string{"-X", "runtime.modinfo="}, "-X runtime.modinfo sets"},
		{"-X= of a runtime string", []string{"-X=runtime.godebugDefault=x"}, "-X runtime.godebugDefault sets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Options{Ldflags: tt.ldflags}.Normalize()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Normalize(ldflags %q) = %v, want an error containing %q", tt.ldflags, err, tt.wantErr)
			}
		})
	}
	if _, err := (Options{VersionVar: "runtime.buildVersion", Version: "go1.99.0"}).Normalize(); err == nil || !strings.Contains(err.Error(), "version variable: -X runtime.buildVersion sets") {
		t.Errorf("Normalize(versionVar runtime.buildVersion) = %v, want refused", err)
	}
	for _, ok := range [][]string{
		{"-X main.commit=abc"},
		{"-X example.com/svc/runtime.v=1", "-X main.runtime=x"},
		{"-X", "main.commit=abc"},
		{"-X=example.com/x/internal/version.V=1.2.3", "-s", "-w=true"},
		{"-X 'main.msg=hello world'", `-X "main.b=c"`},
		{"-B gobuildid", "-checklinkname=0"},
		{"-s -w -buildid= -extldflags '-static'"},
		{"-extldflags", "-static"},
		{"--X main.a=b"},
		{"  -X main.a=b  "},
	} {
		if _, err := (Options{Ldflags: ok}).Normalize(); err != nil {
			t.Errorf("Normalize(ldflags %q) = %v, want it accepted", ok, err)
		}
	}
}
