package smoke

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCollectBoundsTheOutput feeds the output collector what a hostile (or
// merely chatty) service writes on stdout: lines far longer than a report
// can hold, and many of them. The collector keeps a bounded tail (each
// line cut, a bounded number of lines), and keeps reading to the end: a
// service whose pipe stopped being read would block, or die of SIGPIPE on
// its next log line (a Go program does, on fd 1 and 2), and fail the smoke
// gate for what go-image did, not for what it does in a pod.
func TestCollectBoundsTheOutput(t *testing.T) {
	huge := strings.Repeat("x", 3<<20)
	cases := []struct {
		name  string
		lines []string
		last  string
		cut   string // the note on the cut line before the last
	}{
		{"one line of 3 MiB, then more", []string{huge, "after the long line"}, "after the long line", fmt.Sprintf(" … (%d bytes cut)", len(huge)-maxOutputLine)},
		{"many long lines", append(repeat(strings.Repeat("y", 900<<10), 300), "the end"), "the end", fmt.Sprintf(" … (%d bytes cut)", 900<<10-maxOutputLine)},
		{"escape sequences stay in one line", []string{"a\x1b[2K\r[PASS] b", "c"}, "c", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			p := &process{done: make(chan struct{})}
			collected := make(chan struct{})
			go func() { p.collect(pr); close(collected) }()
			wrote := make(chan error, 1)
			go func() {
				var err error
				for _, l := range c.lines {
					if _, err = io.WriteString(pw, l+"\n"); err != nil {
						break
					}
				}
				pw.Close()
				wrote <- err
			}()
			select {
			case err := <-wrote:
				if err != nil {
					t.Fatalf("the service's write failed (%v): the collector stopped reading its output", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the service's write blocked: the collector stopped reading its output")
			}
			<-collected
			out := p.Output()
			total := 0
			for _, l := range out {
				if len(l) > maxOutputLine+64 {
					t.Errorf("kept a line of %d bytes, want at most %d and a note", len(l), maxOutputLine)
				}
				total += len(l)
			}
			if len(out) > maxOutput {
				t.Errorf("kept %d lines, want at most %d", len(out), maxOutput)
			}
			if len(out) == 0 || out[len(out)-1] != c.last {
				t.Fatalf("the tail ends %q, want %q", tailOf(out), c.last)
			}
			if len(out) < 2 || !strings.HasSuffix(out[len(out)-2], c.cut) {
				t.Errorf("the line before the last ends %q, want %q", tailOf(out[:len(out)-1]), c.cut)
			}
			if total > maxOutput*(maxOutputLine+64) {
				t.Errorf("kept %d bytes of output", total)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func tailOf(out []string) string {
	if len(out) == 0 {
		return ""
	}
	l := out[len(out)-1]
	if len(l) > 80 {
		l = "…" + l[len(l)-80:]
	}
	return l
}
