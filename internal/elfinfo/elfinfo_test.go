package elfinfo_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
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

// crafted returns a small ELF64 with one PT_INTERP program header whose
// fields a hostile file sets as it likes.
func crafted(phoff uint64, phnum, shnum uint16, interpOff, interpSize uint64) []byte {
	b := make([]byte, 64+56+16)
	copy(b, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le := binary.LittleEndian
	le.PutUint16(b[0x10:], 2)  // ET_EXEC
	le.PutUint16(b[0x12:], 62) // EM_X86_64
	le.PutUint32(b[0x14:], 1)
	le.PutUint64(b[0x20:], phoff)
	le.PutUint16(b[0x34:], 64)
	le.PutUint16(b[0x36:], 56)
	le.PutUint16(b[0x38:], phnum)
	le.PutUint16(b[0x3a:], 64)
	le.PutUint16(b[0x3c:], shnum)
	ph := b[64:]
	le.PutUint32(ph[0:], uint32(elf.PT_INTERP))
	le.PutUint64(ph[8:], interpOff)
	le.PutUint64(ph[32:], interpSize) // p_filesz
	copy(b[120:], "/lib/ld.so\x00")
	return b
}

// Crafted headers give an error or a verdict, never a panic or a huge
// allocation.
func TestReadCrafted(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		// interp is the PT_INTERP Read must report when it parses.
		interp string
	}{
		{"sane PT_INTERP", crafted(64, 1, 0, 120, 11), "/lib/ld.so"},
		{"e_phoff 2^64-1", crafted(^uint64(0), 1, 0, 120, 11), ""},
		{"e_phoff past the end", crafted(1<<40, 1, 0, 120, 11), ""},
		{"65535 program headers", crafted(64, 0xffff, 0, 120, 11), ""},
		{"65535 section headers, no table", crafted(64, 1, 0xffff, 120, 11), ""},
		{"PT_INTERP of 2^63 bytes", crafted(64, 1, 0, 120, 1<<63), "/lib/ld.so"},
		{"PT_INTERP offset 2^64-1", crafted(64, 1, 0, ^uint64(0), 16), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := elfinfo.Read(bytes.NewReader(tc.data))
			if err != nil {
				return // refused: fine, the gate reports it
			}
			if tc.interp != "" && info.Interp != tc.interp {
				t.Errorf("Interp = %q, want %q", info.Interp, tc.interp)
			}
			if info.Static() && tc.interp != "" {
				t.Error("a binary with PT_INTERP judged static")
			}
		})
	}
}

// FuzzRead: no file makes Read or GoBuildInfo panic; Read's verdict on a
// file that parses is stable when read again.
func FuzzRead(f *testing.F) {
	f.Add(crafted(64, 1, 0, 120, 11))
	f.Add(crafted(^uint64(0), 1, 0, 120, 11))
	f.Add(crafted(64, 0xffff, 0xffff, 120, 1<<63))
	f.Add(imagetest.UPXPacked())
	f.Add([]byte("#!/bin/sh\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := elfinfo.Read(bytes.NewReader(data))
		if errors.Is(err, elfinfo.ErrMalformed) {
			t.Fatalf("a parser panicked: %v", err)
		}
		if err == nil && !elfinfo.IsELF(data) {
			t.Fatal("a file without the ELF magic parsed")
		}
		if _, err := elfinfo.GoBuildInfo(bytes.NewReader(data)); errors.Is(err, elfinfo.ErrMalformed) {
			t.Fatalf("debug/buildinfo panicked: %v", err)
		}
		again, err2 := elfinfo.Read(bytes.NewReader(data))
		if (err == nil) != (err2 == nil) || info.Static() != again.Static() || info.Stripped() != again.Stripped() {
			t.Fatal("Read is not deterministic")
		}
	})
}
