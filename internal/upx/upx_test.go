package upx_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
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

// packedELF is imagetest.UPXPacked with one marker tampered with, to test
// each marker's weight.
func packedELF(t *testing.T, tamper string) []byte {
	b := imagetest.UPXPacked()
	le := binary.LittleEndian
	switch tamper {
	case "sections": // pretend a section header table exists
		le.PutUint64(b[0x28:], 0x2000)
		le.PutUint16(b[0x3c:], 5)
	case "linfo": // l_info.l_magic sits after the header and two phdrs
		off := 64 + 2*56 + 4
		if string(b[off:off+4]) != "UPX!" {
			t.Fatalf("fixture layout changed: no l_info magic at %d", off)
		}
		copy(b[off:], "XXX!")
	case "packheader": // PackHeader (32 bytes) then the 4-byte overlay offset
		off := len(b) - 36
		if string(b[off:off+4]) != "UPX!" {
			t.Fatalf("fixture layout changed: no PackHeader at %d", off)
		}
		copy(b[off:], "XXX!")
	case "info":
		b = bytes.ReplaceAll(b, []byte("$Info:"), []byte("$Nope:"))
	}
	return b
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
		{"UPX layout", packedELF(t, ""), true, true},
		{"l_info magic tampered", packedELF(t, "linfo"), true, true},
		{"PackHeader tampered", packedELF(t, "packheader"), true, true},
		{"no $Info string", packedELF(t, "info"), true, true},
		{"section headers forged", packedELF(t, "sections"), true, true},
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
	_, m, _ := upx.Detect(bytes.NewReader(packedELF(t, "")))
	if !(m.LInfo && m.PackHeader && m.NoSectionHeaders && m.InfoString) {
		t.Errorf("markers in the UPX layout = %+v, want all four", m)
	}
}

func TestGate(t *testing.T) {
	compliant := imagetest.Compliant(t)
	packed := imagetest.Append(t, compliant, imagetest.File{Path: imagetest.ServicePath, Mode: 0o555, Data: packedELF(t, "")})
	helper := imagetest.Append(t, compliant, imagetest.File{Path: "/usr/bin/helper", Mode: 0o755, Data: packedELF(t, "")})
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
		imagetest.File{Path: "/packed", Mode: 0o755, Data: packedELF(t, "")},
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

// elfHeader64 is a little-endian ELF64 header with the given program
// header offset, size and count, as a crafted file sets them.
func elfHeader64(phoff uint64, phentsize, phnum, shnum uint16) []byte {
	b := make([]byte, 64)
	copy(b, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le := binary.LittleEndian
	le.PutUint64(b[0x20:], phoff)
	le.PutUint16(b[0x36:], phentsize)
	le.PutUint16(b[0x38:], phnum)
	le.PutUint16(b[0x3c:], shnum)
	return b
}

// Offsets taken from a crafted header never index outside what was read:
// each case panicked (index out of range) or could have.
func TestDetectCraftedHeaders(t *testing.T) {
	be32 := func(phoff uint32, phentsize, phnum uint16) []byte {
		b := make([]byte, 52)
		copy(b, []byte{0x7f, 'E', 'L', 'F', 1, 2, 1})
		binary.BigEndian.PutUint32(b[0x1c:], phoff)
		binary.BigEndian.PutUint16(b[0x2a:], phentsize)
		binary.BigEndian.PutUint16(b[0x2c:], phnum)
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"e_phoff 2^64-1 (wraps to a small offset)", elfHeader64(^uint64(0), 56, 1, 0)},
		{"e_phoff 2^64-8", elfHeader64(^uint64(0)-7, 0, 0, 0)},
		{"e_phoff 2^64-12 (off+8 wraps to a valid-looking 0)", elfHeader64(^uint64(0)-11, 0, 0, 0)},
		{"e_phoff past the head", elfHeader64(1<<40, 56, 2, 0)},
		{"e_phoff at the end of the file", elfHeader64(64, 0, 0, 0)},
		{"65535 program headers of 65535 bytes", elfHeader64(64, 0xffff, 0xffff, 0)},
		{"l_info straddling the end", append(elfHeader64(60, 0, 0, 0), "UP"...)},
		{"ELF32 big-endian, e_phoff 2^32-1", be32(^uint32(0), 32, 0xffff)},
		{"truncated ELF32 header", []byte{0x7f, 'E', 'L', 'F', 1, 1}},
		{"truncated ELF64 header", elfHeader64(0, 0, 0, 0)[:60]},
		{"unknown class and data", []byte{0x7f, 'E', 'L', 'F', 9, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isELF, m, err := upx.Detect(bytes.NewReader(tc.data))
			if err != nil || !isELF {
				t.Fatalf("Detect = %v, %v", isELF, err)
			}
			if m.LInfo {
				t.Errorf("l_info magic found in a file that has none: %+v", m)
			}
		})
	}
	// The magic right after a crafted header is still found: the bounds
	// checks do not blind the gate.
	withMagic := append(elfHeader64(64, 0, 0, 0), "\x00\x00\x00\x00UPX!"...)
	if _, m, _ := upx.Detect(bytes.NewReader(withMagic)); !m.LInfo {
		t.Error("l_info magic at the end of the head not found")
	}
}

// The gate over an image holding the crafted file reports, and does not
// crash (before the fix: exit 2 and no report).
func TestGateCraftedHeader(t *testing.T) {
	img := imagetest.Append(t, imagetest.Compliant(t), imagetest.File{Path: "/usr/bin/evil", Mode: 0o755, Data: elfHeader64(^uint64(0)-11, 0, 0, 0)})
	r := gates.Run(context.Background(), img, upx.Gate{})
	if len(r.Results) != 1 || r.Results[0].ID != upx.ID || r.Results[0].Status != report.Pass {
		t.Fatalf("results = %+v, want one passing %s (the file is not packed)", r.Results, upx.ID)
	}
}

// FuzzDetect: any file, read in any chunking, gives the same verdict and
// never panics; a file is ELF exactly when it starts with the magic.
func FuzzDetect(f *testing.F) {
	f.Add(imagetest.UPXPacked())
	f.Add(elfHeader64(^uint64(0)-11, 0, 0, 0))
	f.Add(elfHeader64(64, 0xffff, 0xffff, 0))
	f.Add([]byte("#!/bin/sh\n"))
	f.Add([]byte{0x7f, 'E', 'L', 'F', 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		isELF, m, err := upx.Detect(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if isELF != bytes.HasPrefix(data, []byte{0x7f, 'E', 'L', 'F'}) {
			t.Fatalf("isELF = %v for % x", isELF, data[:min(4, len(data))])
		}
		isELF2, m2, err := upx.Detect(iotest.HalfReader(bytes.NewReader(data)))
		if err != nil || isELF2 != isELF || m2 != m {
			t.Fatalf("short reads change the verdict: %+v vs %+v (%v)", m2, m, err)
		}
	})
}
