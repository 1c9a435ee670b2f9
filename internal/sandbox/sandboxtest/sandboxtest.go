// Package sandboxtest gives tests the hostile service snoop, compiled once
// per test binary, the bait it goes for, and the check that it got none.
package sandboxtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// Report is what snoop saw (testdata/snoop).
type Report struct {
	UID, EUID, GID int
	Groups         []int
	Pid, Ppid      int
	Hostname       string
	Status         map[string]string // CapEff, CapBnd, CapAmb, NoNewPrivs..., as /proc/self/status shows them
	Pids           []string          // what /proc lists
	Environ        map[string]string // /proc/<pid>/environ it could read
	Errors         map[string]string // what failed, by attempt
	Key            string            // a key file's content, if read (SNOOP_KEY, or --sign-key of a process it sees)
	Wrote          []string          // paths it managed to write
	Dialed         bool              // reached the host listener
	Keyring        string            // the bait key read from its uid's user keyring (SNOOP_KEYRING)
	Mountinfo      string
	Root           []string // the names in /
}

var snoop struct {
	once sync.Once
	bin  []byte
	err  error
	out  string
}

// SnoopDir is the source of snoop, a Go module of its own.
func SnoopDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "snoop")
}

// Snoop returns snoop compiled statically for linux/GOARCH.
func Snoop(t testing.TB) []byte {
	t.Helper()
	snoop.once.Do(func() {
		dir, err := os.MkdirTemp("", "go-image-snoop-")
		if err != nil {
			snoop.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "snoop")
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
		cmd.Dir = SnoopDir()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOWORK=off", "GOFLAGS=-mod=mod")
		b, err := cmd.CombinedOutput()
		if err != nil {
			snoop.err, snoop.out = err, string(b)
			return
		}
		snoop.bin, snoop.err = os.ReadFile(out)
	})
	if snoop.err != nil {
		t.Fatalf("build snoop: %v\n%s", snoop.err, snoop.out)
	}
	return snoop.bin
}

// Parse finds snoop's report in its output lines.
func Parse(t testing.TB, output []string) Report {
	t.Helper()
	for _, l := range output {
		if j, ok := strings.CutPrefix(l, "SNOOP "); ok {
			var r Report
			if err := json.Unmarshal([]byte(j), &r); err != nil {
				t.Fatalf("snoop's report: %v\n%s", err, j)
			}
			return r
		}
	}
	t.Fatalf("snoop printed no report; its output:\n%s", strings.Join(output, "\n"))
	return Report{}
}

// Bait is what snoop goes for on the host: secrets in this process's
// environment (REGISTRY_TOKEN, COSIGN_PASSWORD), a key file, a directory
// anyone may write, and a listener on the host's loopback.
type Bait struct {
	Token, Password, KeyData string
	Key, Dir                 string
	// KeyringKey names the key planted in a host uid's user keyring
	// (PlantKeyring), "" if none.
	KeyringKey string
	ln         net.Listener
	reached    atomic.Int32
}

// NewBait sets the bait for t; it is cleaned up with t.
func NewBait(t *testing.T) *Bait {
	t.Helper()
	b := &Bait{Token: secret(), Password: secret(), KeyData: secret()}
	t.Setenv("REGISTRY_TOKEN", b.Token)
	t.Setenv("COSIGN_PASSWORD", b.Password)
	dir, err := os.MkdirTemp("", "go-image-bait-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b.Dir, b.Key = dir, filepath.Join(dir, "cosign.key")
	if err := os.WriteFile(b.Key, []byte(b.KeyData), 0o644); err != nil {
		t.Fatal(err)
	}
	// Writable by anyone: only the sandbox keeps the service out.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if b.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.ln.Close() })
	go func() {
		for {
			c, err := b.ln.Accept()
			if err != nil {
				return
			}
			b.reached.Add(1)
			c.Close()
		}
	}()
	return b
}

// Env tells snoop where the bait is.
func (b *Bait) Env() []string {
	env := []string{"SNOOP_KEY=" + b.Key, "SNOOP_WRITE=" + b.Dir, "SNOOP_DIAL=" + b.ln.Addr().String()}
	if b.KeyringKey != "" {
		env = append(env, "SNOOP_KEYRING="+b.KeyringKey)
	}
	return env
}

// PlantKeyring puts the key password (b.Password) into the user keyring of
// host uid:gid, as a host program of that uid can (keyctl padd user …
// @u): the kernel shares that keyring with every process of the uid in
// the host's user namespace, a service running as that host uid included.
// The key is invalidated with t. Root only: it skips t otherwise.
func (b *Bait) PlantKeyring(t *testing.T, uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: planting a key in another uid's keyring needs root")
	}
	dir, err := os.MkdirTemp("", "go-image-keyring-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "snoop")
	if err := os.WriteFile(bin, Snoop(t), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	desc := "go-image-bait-" + secret()
	as := func(value string) error {
		cmd := exec.Command(bin)
		cmd.Env = []string{"SNOOP_PLANT=" + desc + "=" + value}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := as(b.Password); err != nil {
		t.Fatalf("plant a key in uid %d's user keyring: %v", uid, err)
	}
	t.Cleanup(func() {
		if err := as(""); err != nil {
			t.Errorf("invalidate the key planted in uid %d's user keyring: %v", uid, err)
		}
	})
	b.KeyringKey = desc
}

// Check fails t unless snoop, which ran as uid:gid, got none of the bait
// and none of the privileges it tried for.
func (b *Bait) Check(t *testing.T, rep Report, uid, gid int) {
	t.Helper()
	if rep.UID != uid || rep.EUID != uid || rep.GID != gid {
		t.Errorf("ran as uid %d euid %d gid %d, want %d:%d", rep.UID, rep.EUID, rep.GID, uid, gid)
	}
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if v := rep.Status[k]; strings.Trim(v, "0") != "" {
			t.Errorf("%s = %q, want no capability", k, v)
		}
	}
	if rep.Status["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %q, want 1", rep.Status["NoNewPrivs"])
	}
	// Where the machine refuses the sandbox a /proc, nothing is listed.
	if rep.Pid != 1 || (rep.Errors["list /proc"] == "" && !slices.Equal(rep.Pids, []string{"1"})) {
		t.Errorf("pid %d, /proc lists %v: want PID 1, alone in its PID namespace", rep.Pid, rep.Pids)
	}
	for pid, env := range rep.Environ {
		for _, s := range []string{b.Token, b.Password, b.KeyData, "REGISTRY_TOKEN", "COSIGN_PASSWORD"} {
			if strings.Contains(env, s) {
				t.Errorf("the service read this process's secrets in /proc/%s/environ: %q", pid, env)
			}
		}
	}
	if rep.Key != "" || rep.Errors["read key"] == "" {
		t.Errorf("the service read the host's key file (%q, error %q)", rep.Key, rep.Errors["read key"])
	}
	if !slices.Equal(rep.Wrote, []string{"/tmp/snoop-was-here"}) {
		t.Errorf("wrote %v, want only its tmpfs /tmp", rep.Wrote)
	}
	if ents, _ := os.ReadDir(b.Dir); len(ents) != 1 {
		t.Errorf("the host directory changed: %v", ents)
	}
	if rep.Keyring != "" {
		t.Errorf("the service read %q from its host uid's user keyring, which the host shares with it", rep.Keyring)
	}
	if rep.Dialed || b.reached.Load() != 0 {
		t.Error("the service reached a listener on the host's loopback")
	}
	for _, a := range []string{"setuid 0", "chroot", "mount proc", "clone user namespace", "open /proc/1/exe for writing"} {
		if rep.Errors[a] == "" {
			t.Errorf("%s succeeded", a)
		}
	}
}

func secret() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "s3cr3t-" + hex.EncodeToString(b)
}
