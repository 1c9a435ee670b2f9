package main

import (
	"path/filepath"
	"strings"
	"testing"

	"dagger/go-image/internal/imagefile"
	"dagger/go-image/internal/imagetest"
)

// An image whose file names repaint a failed check as passed: in a
// terminal, "\x1b[2K\r" erases the line and returns to its start, so the
// "[FAIL] harden/no-setuid" line showed "[PASS] …"; in Markdown, a newline
// and "## " made a heading saying every gate passed. The CLI's report and
// errors show the escapes, and the verdict stays FAIL.
func TestCheckReportCannotBeForged(t *testing.T) {
	forged := "su\x1b[2K\r[PASS] harden/no-setuid               no setuid or setgid files\n## ✅ every gate passed\n<img src=x>"
	img := imagetest.Append(t, imagetest.Compliant(t), imagetest.File{Path: "/usr/bin/" + forged, Mode: 0o4755, Data: []byte("x")})
	tar := filepath.Join(t.TempDir(), "forged.tar")
	if err := imagefile.Write(tar, "forged:latest", img); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "markdown"} {
		t.Run(format, func(t *testing.T) {
			code, stdout, stderr := goImage(t, "check", "--image", tar, "--format", format)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (a setuid file fails)\n%s", code, stderr)
			}
			for name, out := range map[string]string{"stdout": stdout, "stderr": stderr} {
				if strings.ContainsAny(out, "\x1b\r") {
					t.Errorf("%s holds a raw ESC or CR:\n%q", name, out)
				}
				for _, l := range strings.Split(out, "\n") {
					if strings.HasPrefix(l, "[PASS] harden/no-setuid") || strings.HasPrefix(l, "## ✅") || strings.HasPrefix(l, "<img") {
						t.Errorf("%s has a forged line %q", name, l)
					}
				}
			}
			want := map[string]string{"text": "[FAIL] harden/no-setuid", "markdown": "| `harden/no-setuid` | ❌ fail |"}[format]
			if !strings.Contains(stdout, want) || !strings.Contains(stdout, `su\x1b[2K\r[PASS]`) {
				t.Errorf("report lacks %q or the visible escape:\n%s", want, stdout)
			}
			if !strings.Contains(stderr, `su\x1b[2K\r[PASS] harden/no-setuid`) {
				t.Errorf("the error does not show the escape:\n%s", stderr)
			}
		})
	}
}

// Errors that quote a path print it escaped: a crafted --image name cannot
// paint the terminal either.
func TestErrorsAreEscaped(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "x\x1b[2K\r[PASS] all gates passed.tar")
	code, _, stderr := goImage(t, "check", "--image", bad)
	if code != 1 || strings.ContainsAny(stderr, "\x1b\r") || !strings.Contains(stderr, `\x1b[2K\r[PASS]`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
