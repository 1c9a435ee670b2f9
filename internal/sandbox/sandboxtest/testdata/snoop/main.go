// Command snoop is a hostile service for the sandbox's tests: before
// anything else (in init, as a compromised dependency would) it tries to
// read the secrets of the process that started it and of every process it
// can see, a key file on the host, to write on the host, to reach a host
// service, and to regain privileges; it prints what it got as one line
// "SNOOP {json}". With SNOOP_LISTEN it then serves HTTP there until
// SIGTERM, and exits 0.
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

	"dagger/go-image/internal/sandbox/sandboxtest"
)

var report = sandboxtest.Report{Status: map[string]string{}, Environ: map[string]string{}, Errors: map[string]string{}}

func attempt(name string, err error) {
	if err != nil {
		report.Errors[name] = err.Error()
	}
}

func init() {
	if os.Getenv("SNOOP_CHILD") != "" {
		os.Exit(0)
	}
	r := &report
	r.UID, r.EUID, r.GID, r.Pid, r.Ppid = os.Getuid(), os.Geteuid(), os.Getgid(), os.Getpid(), os.Getppid()
	r.Groups, _ = os.Getgroups()
	r.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(l, ":")
			if strings.HasPrefix(k, "Cap") || k == "NoNewPrivs" || k == "Seccomp" {
				r.Status[k] = strings.TrimSpace(v)
			}
		}
	}
	// The parent's environment, then every process's.
	for _, p := range []string{strconv.Itoa(os.Getppid()), "1"} {
		b, err := os.ReadFile("/proc/" + p + "/environ")
		attempt("environ "+p, err)
		if err == nil {
			r.Environ[p] = string(b)
		}
	}
	ents, err := os.ReadDir("/proc")
	attempt("list /proc", err)
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		r.Pids = append(r.Pids, e.Name())
		if b, err := os.ReadFile("/proc/" + e.Name() + "/environ"); err == nil {
			r.Environ[e.Name()] = string(b)
		}
	}
	if k := os.Getenv("SNOOP_KEY"); k != "" {
		b, err := os.ReadFile(k)
		attempt("read key", err)
		r.Key = string(b)
	}
	for _, dir := range []string{os.Getenv("SNOOP_WRITE"), "/", "/usr", "/tmp"} {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, "snoop-was-here")
		err := os.WriteFile(p, []byte("pwned"), 0o644)
		attempt("write "+dir, err)
		if err == nil {
			r.Wrote = append(r.Wrote, p)
		}
	}
	if a := os.Getenv("SNOOP_DIAL"); a != "" {
		c, err := net.DialTimeout("tcp", a, time.Second)
		attempt("dial host", err)
		if err == nil {
			r.Dialed = true
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
		r.Wrote = append(r.Wrote, "/proc/1/exe")
	} else {
		attempt("open /proc/1/exe for writing", err)
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		r.Mountinfo = string(b)
	}
	if es, err := os.ReadDir("/"); err == nil {
		for _, e := range es {
			r.Root = append(r.Root, e.Name())
		}
	}
	b, _ := json.Marshal(r)
	fmt.Printf("SNOOP %s\n", b)
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
