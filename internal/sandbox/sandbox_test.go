package sandbox

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dagger/go-image/internal/sandbox/sandboxtest"
)

// snoopEnv names a prebuilt snoop for the non-root run of the tests (the
// test binary re-executed as nobody cannot run the go command).
const snoopEnv = "GOIMAGE_SANDBOX_TEST_SNOOP"

// rootfs makes a root filesystem holding snoop as /bin/snoop, in a
// directory the sandbox's user can reach.
func rootfs(t *testing.T, bin []byte) string {
	t.Helper()
	bundle, err := os.MkdirTemp("", "go-image-sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bundle) })
	if u, g, ok := HostOwner(NonRoot, NonRoot); ok {
		if err := os.Chown(bundle, u, g); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(bundle, "rootfs")
	for _, d := range []string{"bin", "proc", "dev", "tmp", "usr"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "snoop"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

type output struct {
	mu    sync.Mutex
	lines []string
}

func (o *output) collect(r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(nil, 16<<20)
	for s.Scan() {
		o.mu.Lock()
		o.lines = append(o.lines, s.Text())
		o.mu.Unlock()
	}
}

func (o *output) get() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.lines...)
}

// start runs spec with its output collected.
func start(t *testing.T, spec Spec) (*Sandbox, *output) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	spec.Output = w
	s, err := Start(spec)
	w.Close()
	if errors.Is(err, ErrUnavailable) {
		r.Close()
		t.Skipf("SKIPPED: %v", err)
	}
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	out := &output{}
	go out.collect(r)
	return s, out
}

// TestSnoopGetsNothing runs the hostile service in the sandbox and checks
// each thing it tried: the secrets of this process (its environment, a key
// file), the host's files, processes and network, and privileges.
func TestSnoopGetsNothing(t *testing.T) {
	var bin []byte
	if p := os.Getenv(snoopEnv); p != "" {
		var err error
		if bin, err = os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	} else {
		bin = sandboxtest.Snoop(t)
	}
	bait := sandboxtest.NewBait(t)
	root := rootfs(t, bin)
	s, out := start(t, Spec{
		Rootfs: root, Args: []string{"snoop"}, UID: NonRoot, GID: NonRoot,
		Env: append([]string{"PATH=/bin", "SNOOP_LISTEN=127.0.0.1:8080"}, bait.Env()...),
	})
	t.Logf("sandbox: %s", s.Description())

	// The service answers through the sandbox's dialer, and only there.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: s.DialContext, DisableKeepAlives: true}}
	var body []byte
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := client.Get("http://127.0.0.1:8080/")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service never answered through the sandbox: %v\n%s", err, strings.Join(out.get(), "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.TrimSpace(string(body)) != "snoop" {
		t.Errorf("body %q", body)
	}
	if _, err := s.DialContext(context.Background(), "tcp", "127.0.0.1:8081"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial a closed port inside = %v, want connection refused", err)
	}
	if _, err := s.DialContext(context.Background(), "tcp", "10.0.0.1:80"); err == nil {
		t.Error("the sandbox dialled a non-loopback address")
	}
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("no exit 10s after SIGTERM")
	}
	if e := s.Exit(); e.Code != 0 || e.Signal != "" {
		t.Errorf("exit %+v, want 0 (SIGTERM forwarded to the service)", e)
	}
	time.Sleep(50 * time.Millisecond)
	rep := sandboxtest.Parse(t, out.get())
	bait.Check(t, rep, NonRoot, NonRoot)
	// Only the sandbox's own mounts: no host file system is reachable.
	for _, l := range strings.Split(strings.TrimSpace(rep.Mountinfo), "\n") {
		if l == "" {
			continue // no /proc here
		}
		if f := strings.Fields(l); len(f) < 5 || !(f[4] == "/" || f[4] == "/proc" || f[4] == "/tmp" || f[4] == "/dev" || strings.HasPrefix(f[4], "/dev/")) {
			t.Errorf("unexpected mount in the sandbox: %s", l)
		}
	}
	if rep.Hostname != "sandbox" {
		t.Errorf("hostname %q", rep.Hostname)
	}
	t.Logf("snoop's failed attempts: %v", rep.Errors)
}

// TestSnoopGetsNothingAsNonRoot runs TestSnoopGetsNothing again as an
// unprivileged user (nobody): the sandbox then maps the caller's own uid,
// the case where the service and go-image share a host uid.
func TestSnoopGetsNothingAsNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: needs root to switch to nobody; as non-root, TestSnoopGetsNothing covers it")
	}
	dir, err := os.MkdirTemp("", "go-image-snoop-bin-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "snoop")
	if err := os.WriteFile(bin, sandboxtest.Snoop(t), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/proc/self/exe", "-test.run=^TestSnoopGetsNothing$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), snoopEnv+"="+bin, "TMPDIR=/tmp")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	t.Logf("as nobody:\n%s", out)
	if err != nil {
		t.Fatalf("as nobody: %v", err)
	}
	if strings.Contains(string(out), "SKIP") {
		t.Skip("SKIPPED: user namespaces are not available to non-root users here")
	}
}

func TestStartRefusesRoot(t *testing.T) {
	if _, err := Start(Spec{Rootfs: t.TempDir(), Args: []string{"/bin/sh"}, UID: 0}); err == nil || !strings.Contains(err.Error(), "uid 0") {
		t.Errorf("Start as uid 0 = %v, want a refusal", err)
	}
}

// TestSetupErrors: what fails inside the sandbox comes back as an error
// that names the step, never as a program that silently did not start.
func TestSetupErrors(t *testing.T) {
	bin := sandboxtest.Snoop(t)
	tests := []struct {
		name string
		spec func(root string) Spec
		want string
	}{
		{"missing entrypoint", func(root string) Spec { return Spec{Rootfs: root, Args: []string{"/bin/none"}} }, "exec /bin/none"},
		{"not on PATH", func(root string) Spec { return Spec{Rootfs: root, Args: []string{"none"}, Env: []string{"PATH=/bin"}} }, "none not found in PATH /bin"},
		{"missing working directory", func(root string) Spec { return Spec{Rootfs: root, Args: []string{"/bin/snoop"}, Dir: "/nowhere"} }, "enter the working directory"},
		{"missing rootfs", func(root string) Spec { return Spec{Rootfs: root + "-none", Args: []string{"/bin/snoop"}} }, "set up the root filesystem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec(rootfs(t, bin))
			spec.UID, spec.GID = NonRoot, NonRoot
			r, w, _ := os.Pipe()
			defer r.Close()
			spec.Output = w
			s, err := Start(spec)
			w.Close()
			if errors.Is(err, ErrUnavailable) {
				t.Skipf("SKIPPED: %v", err)
			}
			if err == nil {
				s.Kill()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
		})
	}
}

// noUserNSEnv marks the re-executed run of TestStartWithoutUserNamespaces.
const noUserNSEnv = "GOIMAGE_SANDBOX_TEST_NO_USERNS"

// TestStartWithoutUserNamespaces: where user namespaces are not allowed,
// Start fails with ErrUnavailable, the reason and the fix, and runs
// nothing. The test re-executes itself as uid 1000 in a user namespace
// that allows none inside (user.max_user_namespaces=0).
func TestStartWithoutUserNamespaces(t *testing.T) {
	if os.Getenv(noUserNSEnv) != "" {
		if err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0"), 0); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setgid(1000); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setuid(1000); err != nil {
			t.Fatal(err)
		}
		_, err := Start(Spec{Rootfs: t.TempDir(), Args: []string{"/bin/snoop"}, UID: NonRoot, GID: NonRoot})
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "creating user namespaces failed") || !strings.Contains(err.Error(), "user.max_user_namespaces") {
			t.Fatalf("Start = %v, want ErrUnavailable with the cause and the fix", err)
		}
		t.Logf("Start: %v", err)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: needs root to make the user namespace that allows none")
	}
	cmd := exec.Command("/proc/self/exe", "-test.run=^TestStartWithoutUserNamespaces$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), noUserNSEnv+"=1", "TMPDIR=/tmp")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}, {ContainerID: 1000, HostID: 1000, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}, {ContainerID: 1000, HostID: 1000, Size: 1}},
		GidMappingsEnableSetgroups: true,
	}
	out, err := cmd.CombinedOutput()
	t.Logf("in a user namespace that allows none:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestStartWithoutUserNamespaces") {
		t.Fatalf("re-executed test: %v", err)
	}
}

// TestCheckWantsTheHostRange: a root caller whose user namespace lacks the
// host IDs the sandbox maps is refused before anything is extracted.
func TestCheckWantsTheHostRange(t *testing.T) {
	for m, want := range map[string]bool{
		"         0          0 4294967295\n": true,
		"         0     100000      65536\n": false,
		"0 0 1000\n2000000000 5 16777216\n":  true,
		"0 0 2000000001\n":                   false,
	} {
		if got := maps(m, HostBase, IDRange); got != want {
			t.Errorf("maps(%q) = %v, want %v", m, got, want)
		}
	}
}
