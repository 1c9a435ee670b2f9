package upx_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math/rand"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/imagetest"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/upx"
)

var _ gates.Gate = upx.Gate{}

// packedELF builds a file laid out as `upx --best` writes an amd64 ELF
// executable (UPX 4, p_lx_elf.cpp), since UPX itself cannot be installed
// here:
//
//	Elf64_Ehdr (64 bytes)   e_phoff=64, e_phnum=2, e_shoff=0, e_shnum=0:
//	                        UPX drops the section header table
//	2 × Elf64_Phdr (56)     PT_LOAD for the stub and the compressed image
//	l_info (12 bytes)       LE32 l_checksum, "UPX!" l_magic, LE16 l_lsize,
//	                        u8 l_version, u8 l_format (22 = UF_LINUX_ELF64_AMD)
//	p_info (12 bytes)       LE32 p_progid, LE32 p_filesize, LE32 p_blocksize
//	b_info + block…         LE32 sz_unc, LE32 sz_cpr, u8 method, ftid, cto8, 0;
//	                        then sz_cpr bytes of compressed data
//	stub                    the decompressor, carrying "$Info: This file is
//	                        packed with the UPX executable packer … $"
//	PackHeader (32 bytes)   "UPX!", version, format, method, level,
//	                        LE32 u_adler, c_adler, u_len, c_len, u_file_size,
//	                        filter, filter_cto, n_mru, header_checksum
//	LE32 overlay offset     last 4 bytes of the file
//
// tamper zeroes the named marker, to test each one's weight.
func packedELF(tamper string) []byte {
	le := binary.LittleEndian
	var b bytes.Buffer
	ehdr := make([]byte, 64)
	copy(ehdr, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le.PutUint16(ehdr[0x10:], 2)  // ET_EXEC
	le.PutUint16(ehdr[0x12:], 62) // EM_X86_64
	le.PutUint32(ehdr[0x14:], 1)  // EV_CURRENT
	le.PutUint64(ehdr[0x18:], 0x401000)
	le.PutUint64(ehdr[0x20:], 64) // e_phoff
	le.PutUint16(ehdr[0x34:], 64) // e_ehsize
	le.PutUint16(ehdr[0x36:], 56) // e_phentsize
	le.PutUint16(ehdr[0x38:], 2)  // e_phnum
	le.PutUint16(ehdr[0x3a:], 64) // e_shentsize
	if tamper == "sections" {
		le.PutUint64(ehdr[0x28:], 0x2000) // pretend a section table exists
		le.PutUint16(ehdr[0x3c:], 5)
	}
	b.Write(ehdr)
	for i := 0; i < 2; i++ {
		ph := make([]byte, 56)
		le.PutUint32(ph[0:], 1) // PT_LOAD
		le.PutUint32(ph[4:], 5) // R+X
		le.PutUint64(ph[0x10:], 0x400000+uint64(i)*0x100000)
		b.Write(ph)
	}
	linfo := make([]byte, 12)
	le.PutUint32(linfo[0:], 0xdeadbeef)
	copy(linfo[4:], "UPX!")
	if tamper == "linfo" {
		copy(linfo[4:], "XXX!")
	}
	le.PutUint16(linfo[8:], 0x1234)
	linfo[10], linfo[11] = 13, 22
	b.Write(linfo)
	pinfo := make([]byte, 12)
	le.PutUint32(pinfo[4:], 6_000_000)
	le.PutUint32(pinfo[8:], 6_000_000)
	b.Write(pinfo)
	block := make([]byte, 100_000)
	rand.New(rand.NewSource(7)).Read(block)
	binfo := make([]byte, 12)
	le.PutUint32(binfo[0:], 6_000_000)
	le.PutUint32(binfo[4:], uint32(len(block)))
	binfo[8] = 14 // M_LZMA
	b.Write(binfo)
	b.Write(block)
	if tamper != "info" {
		b.WriteString("\x00$Info: This file is packed with the UPX executable packer http://upx.sf.net $\n")
		b.WriteString("$Id: UPX 4.24 Copyright (C) 1996-2024 the UPX Team. All Rights Reserved. $\n")
	}
	ph := make([]byte, 32)
	copy(ph, "UPX!")
	if tamper == "packheader" {
		copy(ph, "XXX!")
	}
	ph[4], ph[5], ph[6], ph[7] = 13, 22, 14, 10
	b.Write(ph)
	off := make([]byte, 4)
	le.PutUint32(off, uint32(b.Len()))
	b.Write(off)
	return b.Bytes()
}

func TestDetect(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// This test binary links package upx, so it embeds the $Info string as
	// data: a normal Go binary that merely mentions UPX.
	selfBytes, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	noSH := append([]byte(nil), imagetest.Service(t, imagetest.Recipe)...)
	binary.LittleEndian.PutUint64(noSH[0x28:], 0) // as sstrip leaves a binary
	binary.LittleEndian.PutUint16(noSH[0x3c:], 0)
	tests := []struct {
		name   string
		data   []byte
		elf    bool
		packed bool
	}{
		{"UPX layout", packedELF(""), true, true},
		{"l_info magic tampered", packedELF("linfo"), true, true},
		{"PackHeader tampered", packedELF("packheader"), true, true},
		{"no $Info string", packedELF("info"), true, true},
		{"section headers forged", packedELF("sections"), true, true},
		{"recipe Go binary", imagetest.Service(t, imagetest.Recipe), true, false},
		{"unstripped Go binary", imagetest.Service(t, imagetest.Unstripped), true, false},
		{"Go binary embedding the UPX strings", selfBytes, true, false},
		{"section headers removed only", noSH, true, false},
		{"non-ELF file", []byte("#!/bin/sh\necho UPX! $Info: This file is packed with the UPX\n"), false, false},
		{"tiny file", []byte{0x7f}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Short reads split the markers across reads: still found.
			readers := []io.Reader{bytes.NewReader(tt.data)}
			if len(tt.data) < 1<<20 {
				readers = append(readers, iotest.OneByteReader(bytes.NewReader(tt.data)))
			}
			for _, r := range readers {
				isELF, m, err := upx.Detect(r)
				if err != nil {
					t.Fatal(err)
				}
				if isELF != tt.elf || m.Packed() != tt.packed {
					t.Errorf("Detect = elf %v, packed %v (%s); want elf %v, packed %v", isELF, m.Packed(), m, tt.elf, tt.packed)
				}
			}
		})
	}
	// Every marker is found in the intact layout.
	_, m, _ := upx.Detect(bytes.NewReader(packedELF("")))
	if !(m.LInfo && m.PackHeader && m.NoSectionHeaders && m.InfoString) {
		t.Errorf("markers in the UPX layout = %+v, want all four", m)
	}
}

func TestGate(t *testing.T) {
	compliant := imagetest.Compliant(t)
	packed := imagetest.Append(t, compliant, imagetest.File{Path: imagetest.ServicePath, Mode: 0o555, Data: packedELF("")})
	helper := imagetest.Append(t, compliant, imagetest.File{Path: "/usr/bin/helper", Mode: 0o755, Data: packedELF("")})
	tests := []struct {
		name    string
		policy  upx.Policy
		img     v1.Image
		status  report.Status
		message string
	}{
		{"compliant", "", compliant, report.Pass, "no UPX-packed binary among 1 ELF file"},
		{"packed entrypoint denied by default", "", packed, report.Fail, "UPX-packed binary: " + imagetest.ServicePath + " (entrypoint); build without `upx`"},
		{"packed helper denied", upx.Deny, helper, report.Fail, "/usr/bin/helper"},
		{"warn", upx.Warn, packed, report.Warn, "--upx warn"},
		{"allow", upx.Allow, packed, report.Pass, "allowed by --upx allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := upx.Gate{Policy: tt.policy}.Check(context.Background(), tt.img)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 || rs[0].ID != upx.ID {
				t.Fatalf("results = %+v, want one %s", rs, upx.ID)
			}
			if rs[0].Status != tt.status || !strings.Contains(rs[0].Message, tt.message) {
				t.Errorf("got %s %q, want %s containing %q", rs[0].Status, rs[0].Message, tt.status, tt.message)
			}
		})
	}
}

func TestGateSkipsDeletedAndNonELF(t *testing.T) {
	img := imagetest.Append(t, empty.Image,
		imagetest.File{Path: "/packed", Mode: 0o755, Data: packedELF("")},
		imagetest.File{Path: "/notes.txt", Mode: 0o644, Data: []byte("UPX! $Info: This file is packed with the UPX")},
	)
	img = imagetest.Append(t, img, imagetest.File{Path: "/.wh.packed"})
	rs, err := upx.Gate{}.Check(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Status != report.Pass || rs[0].Metrics["elf_files"] != 0 {
		t.Errorf("a deleted packed file or a text file was judged: %+v", rs[0])
	}
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]upx.Policy{"": upx.Deny, "deny": upx.Deny, "WARN": upx.Warn, " allow ": upx.Allow} {
		if got, err := upx.ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := upx.ParsePolicy("maybe"); err == nil || !strings.Contains(err.Error(), "deny, warn or allow") {
		t.Errorf("ParsePolicy(maybe) err = %v", err)
	}
}
