package local

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"dagger/go-image/internal/assemble"
	"dagger/go-image/internal/limits"
	"dagger/go-image/internal/recipe"
)

const service = "../../testdata/service"

// The example service image is built once: compiling is the slow part.
var serviceImage = sync.OnceValues(func() (v1.Image, error) {
	return Build(context.Background(), Request{Source: service, Options: recipe.Options{Version: "1.2.3", SourceDateEpoch: 1700000000}})
})

// files flattens img into path -> header and contents.
func files(t *testing.T, img v1.Image) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	hdrs, data := map[string]*tar.Header{}, map[string][]byte{}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hdrs, data
		}
		if err != nil {
			t.Fatal(err)
		}
		p := "/" + strings.TrimSuffix(h.Name, "/")
		hdrs[p] = h
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			data[p] = b
		}
	}
}

func TestServiceImage(t *testing.T) {
	img, err := serviceImage()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532", cf.Config.User)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/usr/local/bin/service"}) || cf.Config.Cmd != nil {
		t.Errorf("entrypoint = %q cmd = %q, want exec form /usr/local/bin/service", cf.Config.Entrypoint, cf.Config.Cmd)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform = %s/%s", cf.OS, cf.Architecture)
	}
	if got := cf.Config.Labels["org.opencontainers.image.version"]; got != "1.2.3" {
		t.Errorf("version label = %q", got)
	}
	if got := cf.Config.Labels["org.opencontainers.image.created"]; got != "2023-11-14T22:13:20Z" {
		t.Errorf("created label = %q, want the source date", got)
	}

	hdrs, data := files(t, img)
	var paths []string
	for p := range hdrs {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	want := []string{"/etc", "/etc/group", "/etc/passwd", "/etc/ssl", "/etc/ssl/certs", "/etc/ssl/certs/ca-certificates.crt",
		"/home", "/home/nonroot", "/usr", "/usr/local", "/usr/local/bin", "/usr/local/bin/service"}
	if !slices.Equal(paths, want) {
		t.Fatalf("image files:\n got %v\nwant %v (no toolchain, no source)", paths, want)
	}
	if !strings.Contains(string(data["/etc/passwd"]), "nonroot:x:65532:65532:") || !strings.Contains(string(data["/etc/group"]), "nonroot:x:65532:") {
		t.Errorf("USER 65532:65532 does not resolve:\n%s\n%s", data["/etc/passwd"], data["/etc/group"])
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data["/etc/ssl/certs/ca-certificates.crt"]) {
		t.Error("CA bundle does not parse")
	}
	if h := hdrs["/home/nonroot"]; h.Uid != 65532 || h.Gid != 65532 {
		t.Errorf("home owned by %d:%d", h.Uid, h.Gid)
	}
	if h := hdrs["/usr/local/bin/service"]; h.Uid != 0 || h.Mode&0o777 != 0o555 {
		t.Errorf("binary owner %d mode %o, want root 0555", h.Uid, h.Mode)
	}

	bin := data["/usr/local/bin/service"]
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("entrypoint is not ELF: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has PT_INTERP: dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary needs %v", libs)
	}
	for _, s := range f.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			t.Errorf("binary not stripped: has %s", s.Name)
		}
	}
	bi, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	// The go command leaves -ldflags out of buildinfo under -trimpath; the
	// stripping is checked on the sections above, the -X in TestEntrypointServes.
	if settings["-trimpath"] != "true" || settings["CGO_ENABLED"] != "0" {
		t.Errorf("buildinfo settings = %v, want -trimpath and CGO_ENABLED=0", settings)
	}
}

func TestReproducible(t *testing.T) {
	a, err := serviceImage()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(context.Background(), Request{Source: service, Options: recipe.Options{Version: "1.2.3", SourceDateEpoch: 1700000000}})
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds of the same input: %s != %s", da, db)
	}
}

// TestEntrypointServes runs the image's entrypoint binary, taken out of the
// image, as a process and asks its probe server for /healthz.
func TestEntrypointServes(t *testing.T) {
	img, err := serviceImage()
	if err != nil {
		t.Fatal(err)
	}
	_, data := files(t, img)
	bin := filepath.Join(t.TempDir(), "service")
	if err := os.WriteFile(bin, data["/usr/local/bin/service"], 0o755); err != nil {
		t.Fatal(err)
	}
	addr, probe := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"ADDR=" + addr, "PROBE_ADDR=" + probe}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err = http.Get("http://" + probe + "/healthz"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("/healthz never answered: %v\n%s", err, out.String())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "service 1.2.3") {
		t.Errorf("business / = %q, want the version injected with -X main.version=1.2.3", body)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("service did not exit cleanly on SIGINT: %v\n%s", err, out.String())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestAlpineBase pulls a stand-in alpine base from a registry served in
// process and checks that its accounts are kept and 65532 is added.
func TestAlpineBase(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	scratch, err := assemble.Scratch(recipe.Platform{OS: "linux", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	layer, err := assemble.Layer([]recipe.File{
		{Path: "/bin", Mode: 0o755, Dir: true},
		{Path: "/bin/busybox", Mode: 0o755, Data: []byte("not really busybox")},
		{Path: "/etc", Mode: 0o755, Dir: true},
		{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:root\nnobody:x:65534:\n")},
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n")},
	}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	base, err := mutate.AppendLayers(scratch, layer)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/library/alpine:3.22")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, base); err != nil {
		t.Fatal(err)
	}
	img, err := Build(context.Background(), Request{Source: service, Options: recipe.Options{Base: recipe.Alpine, SourceDateEpoch: 1700000000}, BaseRef: ref.String()})
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	if len(layers) != 2 {
		t.Errorf("layers = %d, want base + go-image", len(layers))
	}
	_, data := files(t, img)
	passwd := string(data["/etc/passwd"])
	if !strings.Contains(passwd, "nobody:x:65534") || !strings.Contains(passwd, "nonroot:x:65532:65532") {
		t.Errorf("passwd lost the base's accounts or lacks 65532:\n%s", passwd)
	}
	if _, ok := data["/bin/busybox"]; !ok {
		t.Error("base files missing")
	}
	// The base is pinned by the digest its tag resolved to, and recorded.
	baseDigest, err := base.Digest()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Annotations[recipe.AnnotationBaseName], ref.String(); got != want {
		t.Errorf("base name annotation = %q, want %q", got, want)
	}
	if got := m.Annotations[recipe.AnnotationBaseDigest]; got != baseDigest.String() {
		t.Errorf("base digest annotation = %q, want %s", got, baseDigest)
	}
	for i, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer %d media type %s, want %s", i, l.MediaType, types.OCILayer)
		}
	}
	// A base pinned by digest is pulled by that digest.
	pinned, err := Build(context.Background(), Request{Source: service, Options: recipe.Options{Base: recipe.Alpine, SourceDateEpoch: 1700000000}, BaseRef: ref.String() + "@" + baseDigest.String()})
	if err != nil {
		t.Fatal(err)
	}
	if d1, d2 := digestOf(t, img), digestOf(t, pinned); d1 != d2 {
		t.Errorf("tag and tag@digest of one base built %s and %s", d1, d2)
	}

	_, err = Build(context.Background(), Request{Source: service, Options: recipe.Options{Base: recipe.Alpine}, BaseRef: host + "/library/alpine:missing"})
	if err == nil || !strings.Contains(err.Error(), "pull base image") {
		t.Errorf("missing base: err = %v, want a pull error", err)
	}
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBadInputs(t *testing.T) {
	noMod := t.TempDir()
	tests := []struct {
		name    string
		req     Request
		wantErr string
	}{
		{"no go.mod", Request{Source: noMod}, "no go.mod"},
		{"missing dir", Request{Source: filepath.Join(noMod, "nope")}, "no such file"},
		{"no main package", Request{Source: "../../testdata/broken/nomain"}, "is package nomain, not main"},
		{"main dir missing", Request{Source: service, Options: recipe.Options{Main: "./cmd/nothing"}}, "main package ./cmd/nothing"},
		{"compile error", Request{Source: "../../testdata/broken/compileerror"}, "cannot use \"not an int\""},
		{"cgo", Request{Source: "../../testdata/broken/cgo"}, "uses cgo"},
		{"unknown base", Request{Source: service, Options: recipe.Options{Base: "distroless"}}, "unknown base image"},
		{"bad platform", Request{Source: service, Options: recipe.Options{Platform: "linux/sparc"}}, "unsupported architecture"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(context.Background(), tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestCrossCompile(t *testing.T) {
	img, err := Build(context.Background(), Request{Source: service, Options: recipe.Options{Platform: "linux/arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if cf.Architecture != "arm64" {
		t.Fatalf("arch = %s", cf.Architecture)
	}
	_, data := files(t, img)
	f, err := elf.NewFile(bytes.NewReader(data["/usr/local/bin/service"]))
	if err != nil {
		t.Fatal(err)
	}
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("machine = %v, want aarch64", f.Machine)
	}
}

// TestBaseFromHostileRegistry: the base image's registry is not trusted.
// A config its manifest declares 3 GiB long is refused before it is read
// (go-containerregistry read it whole: 775 MiB allocated for 300 MiB
// served), with the bound's named error.
func TestBaseFromHostileRegistry(t *testing.T) {
	cfg := "sha256:" + strings.Repeat("ab", 32)
	man := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":3221225472,"digest":"` + cfg + `"},"layers":[]}`
	h, _, err := v1.SHA256(strings.NewReader(man))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "/manifests/"):
			w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
			io.WriteString(w, man)
		case strings.Contains(r.URL.Path, "/blobs/"):
			buf := make([]byte, 1<<20)
			for range 256 {
				if _, err := w.Write(buf); err != nil {
					return
				}
			}
		}
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/base:1@" + h.String()
	_, err = Base(context.Background(), recipe.Alpine, ref, recipe.Platform{OS: "linux", Arch: "amd64"})
	if !errors.Is(err, limits.ErrConfig) {
		t.Fatalf("err = %v, want the config bound", err)
	}
	t.Log(err)
}
