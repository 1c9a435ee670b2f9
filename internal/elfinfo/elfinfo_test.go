package elfinfo_test

import (
	"bytes"
	"os"
	"testing"

	"dagger/go-image/internal/elfinfo"
	"dagger/go-image/internal/imagetest"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name                  string
		bin                   func(t *testing.T) []byte
		static, stripped, go_ bool
		trimpath              string
	}{
		{"recipe build", func(t *testing.T) []byte { return imagetest.Service(t, imagetest.Recipe) }, true, true, true, "true"},
		{"unstripped", func(t *testing.T) []byte { return imagetest.Service(t, imagetest.Unstripped) }, true, false, true, "true"},
		{"no trimpath", func(t *testing.T) []byte { return imagetest.Service(t, imagetest.NoTrimpath) }, true, true, true, ""},
		{"host /bin/ls", func(t *testing.T) []byte {
			b, err := os.ReadFile("/bin/ls")
			if err != nil || !elfinfo.IsELF(b) {
				t.Skipf("SKIP: no ELF /bin/ls on this host (%v): the dynamic-binary case is untested", err)
			}
			return b
		}, false, true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := elfinfo.Read(bytes.NewReader(tt.bin(t)))
			if err != nil {
				t.Fatal(err)
			}
			if info.Static() != tt.static {
				t.Errorf("Static() = %v (interp %q, needed %v), want %v", info.Static(), info.Interp, info.Needed, tt.static)
			}
			if info.Stripped() != tt.stripped {
				t.Errorf("Stripped() = %v (%v), want %v", info.Stripped(), info.SymbolSections, tt.stripped)
			}
			if (info.Go != nil) != tt.go_ {
				t.Fatalf("Go build info present = %v, want %v", info.Go != nil, tt.go_)
			}
			if info.Go != nil {
				if got := info.Go.Settings["-trimpath"]; got != tt.trimpath {
					t.Errorf("-trimpath = %q, want %q", got, tt.trimpath)
				}
				if got := info.Go.Settings["CGO_ENABLED"]; got != "0" {
					t.Errorf("CGO_ENABLED = %q, want 0", got)
				}
			}
		})
	}
}

func TestReadRejectsNonELF(t *testing.T) {
	if _, err := elfinfo.Read(bytes.NewReader([]byte("#!/bin/sh\necho hi\n"))); err == nil {
		t.Fatal("a shell script parsed as ELF")
	}
}
