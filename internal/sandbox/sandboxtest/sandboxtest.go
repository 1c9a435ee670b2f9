// Package sandboxtest gives tests the hostile service snoop, compiled once
// per test binary, and decodes what it reports.
package sandboxtest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Report is what snoop saw (testdata/snoop).
type Report struct {
	UID, EUID, GID int
	Groups         []int
	Pid, Ppid      int
	Hostname       string
	Status         map[string]string // CapEff, CapBnd, NoNewPrivs... of /proc/self/status
	Pids           []string          // what /proc lists
	Environ        map[string]string // /proc/<pid>/environ it could read
	Errors         map[string]string // what failed, by attempt
	Key            string            // the host key file's content, if read
	Wrote          []string          // paths it managed to write
	Dialed         bool              // reached the host listener
	Mountinfo      string
	Root           []string // the names in /
}

var snoop struct {
	once sync.Once
	bin  []byte
	err  error
	out  string
}

// Snoop returns snoop compiled statically for linux/GOARCH.
func Snoop(t testing.TB) []byte {
	t.Helper()
	snoop.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		dir, err := os.MkdirTemp("", "go-image-snoop-")
		if err != nil {
			snoop.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "snoop")
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
		cmd.Dir = filepath.Join(filepath.Dir(file), "testdata", "snoop")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
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
