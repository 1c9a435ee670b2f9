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
	r := report
	r["UID"], r["EUID"], r["GID"], r["Pid"], r["Ppid"] = os.Getuid(), os.Geteuid(), os.Getgid(), os.Getpid(), os.Getppid()
	r["Groups"], _ = os.Getgroups()
	r["Hostname"], _ = os.Hostname()
	status := map[string]string{}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(l, ":")
			if strings.HasPrefix(k, "Cap") || k == "NoNewPrivs" || k == "Seccomp" {
				status[k] = strings.TrimSpace(v)
			}
		}
	}
	r["Status"] = status
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
