package buildcache

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDisk(t *testing.T) {
	d, err := openDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("package archive")
	out := ID(sha256.Sum256(body))
	tests := []struct {
		name    string
		output  ID
		size    int64
		body    []byte
		wantErr error
	}{
		{"exact", out, int64(len(body)), body, nil},
		{"again: kept, the body still read", out, int64(len(body)), body, nil},
		{"wrong content", sum("other"), int64(len(body)), body, errMismatch},
		{"longer than announced", ID(sha256.Sum256(body[:3])), 3, body, errMismatch},
		{"shorter than announced", out, int64(len(body)) + 1, body, errMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bytes.NewReader(tt.body)
			p, err := d.putObject(tt.output, tt.size, r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("putObject = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if _, ok := d.haveObject(tt.output, tt.size); ok {
					t.Error("a refused object is on disk")
				}
				return
			}
			if r.Len() != 0 {
				t.Error("body not read to its end")
			}
			if b, _ := os.ReadFile(p); !bytes.Equal(b, tt.body) {
				t.Errorf("file holds %q", b)
			}
		})
	}
	if entries, _ := os.ReadDir(filepath.Join(d.dir, "tmp")); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}

	a := sum("action")
	if _, ok := d.get(a); ok {
		t.Fatal("hit before any put")
	}
	if err := d.putAction(a, out, int64(len(body))); err != nil {
		t.Fatal(err)
	}
	e, ok := d.get(a)
	if !ok || e.OutputID != out || e.Size != int64(len(body)) || e.DiskPath != d.objectPath(out) {
		t.Fatalf("get = %+v, %v", e, ok)
	}
	// An output whose file lost bytes is a miss, not a short file.
	if err := os.WriteFile(d.objectPath(out), body[:4], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.get(a); ok {
		t.Error("hit on a truncated output")
	}
	for _, rec := range []string{"", "zz 1", out.String() + " -1", out.String(), strings.Repeat("x", 300)} {
		if err := os.WriteFile(d.actionPath(a), []byte(rec), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, ok := d.get(a); ok {
			t.Errorf("hit on action record %q", rec)
		}
	}
}

func TestDiskTrim(t *testing.T) {
	d, err := openDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old, fresh := sum("old"), sum("fresh")
	for _, o := range []ID{old, fresh} {
		if err := d.putAction(o, o, 0); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-LocalMaxAge - time.Hour)
	if err := os.Chtimes(d.actionPath(old), long, long); err != nil {
		t.Fatal(err)
	}
	d.trim(time.Now())
	if _, err := os.Stat(d.actionPath(old)); !os.IsNotExist(err) {
		t.Error("a file unused for longer than LocalMaxAge survived")
	}
	if _, err := os.Stat(d.actionPath(fresh)); err != nil {
		t.Error("a fresh file was trimmed")
	}
	// At most once a day.
	if err := d.putAction(old, old, 0); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(d.actionPath(old), long, long)
	d.trim(time.Now().Add(time.Hour))
	if _, err := os.Stat(d.actionPath(old)); err != nil {
		t.Error("trimmed twice within a day")
	}
}

// split is cmd/internal/quoted.Split, which the go command applies to
// GOCACHEPROG.
func split(s string) ([]string, error) {
	var f []string
	for len(s) > 0 {
		for len(s) > 0 && strings.ContainsRune(" \t\n\r", rune(s[0])) {
			s = s[1:]
		}
		if len(s) == 0 {
			break
		}
		if s[0] == '"' || s[0] == '\'' {
			q := s[0]
			s = s[1:]
			i := strings.IndexByte(s, q)
			if i < 0 {
				return nil, fmt.Errorf("unterminated %c string", q)
			}
			f = append(f, s[:i])
			s = s[i+1:]
			continue
		}
		i := 0
		for i < len(s) && !strings.ContainsRune(" \t\n\r", rune(s[i])) {
			i++
		}
		f = append(f, s[:i])
		s = s[i:]
	}
	return f, nil
}

func TestJoinArgs(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{[]string{"/usr/local/bin/go-image", "cacheprog", "--connect", "/tmp/x/s"}, false},
		{[]string{"/Users/Jane Doe/bin/go-image", "cacheprog"}, false},
		{[]string{"/tmp/it's here/go-image"}, false},
		{[]string{`/tmp/"quoted" and 'single'/go-image`}, true},
		{[]string{"tab\there", "new\nline"}, false},
		{[]string{""}, true},
	}
	for _, tt := range tests {
		line, err := JoinArgs(tt.args)
		if (err != nil) != tt.wantErr {
			t.Errorf("JoinArgs(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		got, err := split(line)
		if err != nil || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.args) {
			t.Errorf("split(JoinArgs(%q)) = %q, %v", tt.args, got, err)
		}
	}
}

// TestModuleLine: the username is the caller's. One GOCACHEPROG cannot
// carry (both kinds of quote) used to leave the line empty, and the go
// command then ran without the cache, saying nothing; now it is an error
// naming the fix, found before anything builds. What it can carry, a
// username with spaces or starting with '-', reaches the cache program as
// one argument, the username, never a flag of its own.
func TestModuleLine(t *testing.T) {
	for _, tc := range []struct {
		username string
		ok       bool
	}{
		{"ci", true},
		{"robot$acme+ci", true},
		{"Jane Doe", true},
		{"--insecure", true},
		{"it's", true},
		{`o'"brien`, false},
	} {
		line, err := ModuleLine("/usr/local/bin/go-image-cacheprog", "registry.example/ci/cache", tc.username, "PW", false)
		if (err == nil) != tc.ok {
			t.Errorf("ModuleLine(username %q) = %q, %v; want ok %v", tc.username, line, err, tc.ok)
			continue
		}
		if err != nil {
			if line != "" || !strings.Contains(err.Error(), "registry.example/ci/cache") || !strings.Contains(err.Error(), "without both") {
				t.Errorf("ModuleLine(username %q) error = %v: want the cache and the fix named", tc.username, err)
			}
			continue
		}
		args, err := split(line)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.Index(args, "--username")
		if i < 0 || i+1 >= len(args) || args[i+1] != tc.username {
			t.Errorf("split(ModuleLine(username %q)) = %q: want the username as --username's value", tc.username, args)
		}
		// insecure is false: an --insecure anywhere but as the username's
		// value would be the username turned into a flag.
		for j, a := range args {
			if a == "--insecure" && j != i+1 {
				t.Errorf("split(ModuleLine(username %q)) = %q: --insecure at %d", tc.username, args, j)
			}
		}
	}
}
