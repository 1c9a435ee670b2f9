// Command snoop is a hostile service for go-image's sandbox tests: before
// anything else (in init, as a compromised dependency would) it tries to
// read the secrets of the process that started it and of every process it
// can see (their environment, and the --sign-key file named on their
// command line), a key file named by SNOOP_KEY, to write on the host
// (SNOOP_WRITE), to reach a host service (SNOOP_DIAL), and to regain
// privileges; it prints what it got as one line "SNOOP {json}", decoded by
// sandboxtest.Report. With SNOOP_LISTEN it then serves HTTP there until
// SIGTERM, and exits 0.
//
// Its own module, with no dependency, so that a test can release it.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// report holds sandboxtest.Report's fields, by name.
var report = map[string]any{}

var (
	environ = map[string]string{}
	errs    = map[string]string{}
	wrote   = []string{}
)

func attempt(name string, err error) {
	if err != nil {
		errs[name] = err.Error()
	}
}

func init() {
	if os.Getenv("SNOOP_CHILD") != "" {
		os.Exit(0)
	}
	if kv := os.Getenv("SNOOP_PLANT"); kv != "" {
		os.Exit(plant(kv))
	}
	r := report
	r["UID"], r["EUID"], r["GID"], r["Pid"], r["Ppid"] = os.Getuid(), os.Geteuid(), os.Getgid(), os.Getpid(), os.Getppid()
	r["Groups"], _ = os.Getgroups()
	r["Hostname"], _ = os.Hostname()
	r["Status"] = privileges()
	// The parent's environment and command line, then every process's.
	pids := []string{strconv.Itoa(os.Getppid()), "1"}
	ents, err := os.ReadDir("/proc")
	attempt("list /proc", err)
	var listed []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			listed = append(listed, e.Name())
			pids = append(pids, e.Name())
		}
	}
	r["Pids"] = listed
	var key string
	for i, p := range pids {
		b, err := os.ReadFile("/proc/" + p + "/environ")
		if i < 2 {
			attempt("environ "+p, err)
		}
		if err == nil {
			environ[p] = string(b)
		}
		if k := signKey("/proc/" + p); k != "" {
			key = k
		}
	}
	if k := os.Getenv("SNOOP_KEY"); k != "" {
		b, err := os.ReadFile(k)
		attempt("read key", err)
		key += string(b)
	}
	r["Environ"], r["Key"] = environ, key
	for _, dir := range []string{os.Getenv("SNOOP_WRITE"), "/", "/usr", "/tmp"} {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, "snoop-was-here")
		err := os.WriteFile(p, []byte("pwned"), 0o644)
		attempt("write "+dir, err)
		if err == nil {
			wrote = append(wrote, p)
		}
	}
	if a := os.Getenv("SNOOP_DIAL"); a != "" {
		c, err := net.DialTimeout("tcp", a, time.Second)
		attempt("dial host", err)
		if err == nil {
			r["Dialed"] = true
			c.Close()
		}
	}
	if d := os.Getenv("SNOOP_KEYRING"); d != "" {
		v, err := keyring(d)
		attempt("read the user keyring", err)
		r["Keyring"] = v
	}
	attempt("setuid 0", syscall.Setuid(0))
	attempt("chroot", syscall.Chroot("/tmp"))
	attempt("mount proc", syscall.Mount("proc", "/tmp", "proc", 0, ""))
	// A user namespace of its own would give it capabilities there.
	child := exec.Command("/proc/self/exe")
	child.Env = []string{"SNOOP_CHILD=1"}
	child.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	attempt("clone user namespace", child.Run())
	if f, err := os.OpenFile("/proc/1/exe", os.O_WRONLY, 0); err == nil {
		f.Close()
		wrote = append(wrote, "/proc/1/exe")
	} else {
		attempt("open /proc/1/exe for writing", err)
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		r["Mountinfo"] = string(b)
	}
	var root []string
	if es, err := os.ReadDir("/"); err == nil {
		for _, e := range es {
			root = append(root, e.Name())
		}
	}
	r["Root"], r["Wrote"], r["Errors"] = root, wrote, errs
	b, _ := json.Marshal(r)
	fmt.Printf("SNOOP %s\n", b)
}

// privileges reads this thread's capability sets and no_new_privs from the
// kernel (not /proc, which a sandbox may lack), in /proc/self/status's
// names and format.
func privileges() map[string]string {
	const (
		prCapbsetRead     = 23
		prGetNoNewPrivs   = 39
		prCapAmbient      = 47
		prCapAmbientIsSet = 1
		capVersion3       = 0x20080522
	)
	hdr := struct {
		version uint32
		pid     int32
	}{version: capVersion3}
	var data [2]struct{ effective, permitted, inheritable uint32 }
	st := map[string]string{}
	if _, _, e := syscall.RawSyscall(syscall.SYS_CAPGET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		st["error"] = e.Error()
		return st
	}
	set := func(lo, hi uint32) string { return fmt.Sprintf("%016x", uint64(hi)<<32|uint64(lo)) }
	st["CapEff"] = set(data[0].effective, data[1].effective)
	st["CapPrm"] = set(data[0].permitted, data[1].permitted)
	st["CapInh"] = set(data[0].inheritable, data[1].inheritable)
	var bnd, amb uint64
	for c := uintptr(0); c < 64; c++ {
		if v, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prCapbsetRead, c, 0); e == 0 && v == 1 {
			bnd |= 1 << c
		}
		if v, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prCapAmbient, prCapAmbientIsSet, c, 0, 0, 0); e == 0 && v == 1 {
			amb |= 1 << c
		}
	}
	st["CapBnd"], st["CapAmb"] = fmt.Sprintf("%016x", bnd), fmt.Sprintf("%016x", amb)
	if v, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prGetNoNewPrivs, 0, 0); e == 0 {
		st["NoNewPrivs"] = strconv.Itoa(int(v))
	}
	return st
}

// signKey reads the file a process names with --sign-key, as that process
// sees it (through its working directory and root), or "".
func signKey(proc string) string {
	b, err := os.ReadFile(proc + "/cmdline")
	if err != nil {
		return ""
	}
	args := strings.Split(string(b), "\x00")
	for i, a := range args {
		var name string
		if v, ok := strings.CutPrefix(a, "--sign-key="); ok {
			name = v
		} else if a == "--sign-key" && i+1 < len(args) {
			name = args[i+1]
		}
		if name == "" {
			continue
		}
		for _, p := range []string{name, proc + "/cwd/" + name, proc + "/root/" + name} {
			if k, err := os.ReadFile(p); err == nil {
				return string(k)
			}
		}
	}
	return ""
}

// The kernel's keyring interface (keyctl(2), add_key(2)).
const (
	keySpecSessionKeyring = -3
	keySpecUserKeyring    = -4
	keyctlLink            = 8
	keyctlSearch          = 10
	keyctlRead            = 11
	keyctlInvalidate      = 21
)

func keyctl(cmd int, args ...uintptr) (uintptr, error) {
	a := append(args, 0, 0, 0, 0)
	r, _, e := syscall.Syscall6(syscall.SYS_KEYCTL, uintptr(cmd), a[0], a[1], a[2], a[3], 0)
	if e != 0 {
		return 0, e
	}
	return r, nil
}

func cstr(s string) uintptr {
	b, _ := syscall.BytePtrFromString(s)
	return uintptr(unsafe.Pointer(b))
}

// keyring reads the "user" key described d from the user keyring of this
// process's uid: a keyring the kernel shares between every process of one
// uid in one user namespace, host processes included. Possession is
// gained by linking that keyring into the session keyring.
func keyring(d string) (string, error) {
	neg := func(i int) uintptr { return uintptr(i) }
	_, _ = keyctl(keyctlLink, neg(keySpecUserKeyring), neg(keySpecSessionKeyring))
	id, err := keyctl(keyctlSearch, neg(keySpecUserKeyring), cstr("user"), cstr(d), 0)
	if err != nil {
		return "", err
	}
	buf := make([]byte, 512)
	n, err := keyctl(keyctlRead, id, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if err != nil {
		return "", err
	}
	return string(buf[:min(int(n), len(buf))]), nil
}

// plant adds (description=value) or, with an empty value, invalidates a
// "user" key in this uid's user keyring: the test's bait, set as the uid
// the service will run as.
func plant(kv string) int {
	d, v, _ := strings.Cut(kv, "=")
	neg := func(i int) uintptr { return uintptr(i) }
	var err error
	if v == "" {
		var id uintptr
		if id, err = keyctl(keyctlSearch, neg(keySpecUserKeyring), cstr("user"), cstr(d), 0); err == nil {
			_, err = keyctl(keyctlInvalidate, id)
		}
	} else {
		b := []byte(v)
		_, _, e := syscall.Syscall6(syscall.SYS_ADD_KEY, cstr("user"), cstr(d), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), neg(keySpecUserKeyring), 0)
		if e != 0 {
			err = e
		}
	}
	if err != nil {
		fmt.Println("plant:", err)
		return 1
	}
	return 0
}

func main() {
	addr := os.Getenv("SNOOP_LISTEN")
	if addr == "" {
		return
	}
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "snoop")
	})}
	go func() {
		if err := srv.ListenAndServe(); err != http.ErrServerClosed {
			fmt.Println("listen:", err)
			os.Exit(1)
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	_ = srv.Close()
}
