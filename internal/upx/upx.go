// Package upx is the UPX gate: it finds ELF binaries packed with UPX and
// applies the policy. A packed binary is decompressed into anonymous memory
// at every start: it defeats image-layer sharing and page-cache sharing
// between pods, slows cold starts, trips malware scanners, and hides the
// real binary from vulnerability scanners (which read Go build info).
package upx

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/report"
)

// ID is the check's stable ID.
const ID = "upx/packed"

// Policy is what a packed binary does to the gate.
type Policy string

const (
	// Deny fails the gate (the default).
	Deny Policy = "deny"
	// Warn passes with status warn.
	Warn Policy = "warn"
	// Allow passes and notes the packed binaries.
	Allow Policy = "allow"
)

// ParsePolicy parses deny, warn or allow ("" is deny).
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(strings.ToLower(strings.TrimSpace(s))); p {
	case "":
		return Deny, nil
	case Deny, Warn, Allow:
		return p, nil
	}
	return "", fmt.Errorf("upx policy %q: use deny, warn or allow", s)
}

// The markers UPX leaves in a packed ELF file.
var (
	magic = []byte("UPX!")
	// infoString opens the copyright notice UPX's stub carries.
	infoString = []byte("$Info: This file is packed with the UPX")
)

// tailSize is how much of a file's end is searched for the PackHeader: UPX
// writes it (32 bytes) and a 4-byte overlay offset last.
const tailSize = 256

// headSize bounds the ELF header, program headers and l_info read.
const headSize = 64 << 10

// Markers are the UPX traces found in one file.
type Markers struct {
	// LInfo: "UPX!" as l_info.l_magic, the struct right after the program
	// headers, where UPX puts it and a linker puts code or padding.
	LInfo bool
	// PackHeader: "UPX!" in the last bytes of the file, where UPX writes its
	// PackHeader (version, format, method, sizes, checksums).
	PackHeader bool
	// NoSectionHeaders: e_shnum is 0. UPX drops the section header table;
	// linkers (Go's included, even with -s -w) always write one.
	NoSectionHeaders bool
	// InfoString: "$Info: This file is packed with the UPX…" anywhere.
	InfoString bool
}

// Packed decides. A normal Go binary cannot pass: it always has section
// headers and never has "UPX!" right after its program headers, so the
// structural clause fails even when it embeds the UPX strings as data (as
// go-image itself does, in this very file). Requiring two markers keeps an
// sstrip'ed binary (no section headers, nothing else) from being flagged,
// while a UPX file whose l_info magic was tampered with is still caught by
// its missing section headers plus the $Info string or PackHeader.
func (m Markers) Packed() bool {
	n := 0
	for _, b := range []bool{m.LInfo, m.PackHeader, m.NoSectionHeaders, m.InfoString} {
		if b {
			n++
		}
	}
	return n >= 2 && (m.LInfo || m.NoSectionHeaders)
}

func (m Markers) String() string {
	var s []string
	if m.LInfo {
		s = append(s, "l_info UPX! magic after the program headers")
	}
	if m.PackHeader {
		s = append(s, "UPX! PackHeader at the end")
	}
	if m.NoSectionHeaders {
		s = append(s, "no section headers")
	}
	if m.InfoString {
		s = append(s, "UPX $Info string")
	}
	return strings.Join(s, ", ")
}

// Detect reads a file and reports whether it is ELF and its UPX markers.
// Memory stays bounded: the head, one read buffer and the tail.
func Detect(r io.Reader) (isELF bool, m Markers, err error) {
	head := make([]byte, 4)
	if _, err := io.ReadFull(r, head); err != nil {
		return false, m, nil // shorter than 4 bytes: not ELF
	}
	if !bytes.Equal(head, []byte{0x7f, 'E', 'L', 'F'}) {
		return false, m, nil
	}
	// win holds the last bytes of the previous read (carry) and then the
	// next read, so a string split across two reads is still found.
	keep := len(infoString) - 1
	win := make([]byte, keep+64<<10)
	carry := copy(win, head)
	tail := make([]byte, 0, 2*tailSize)
	for {
		n, rerr := r.Read(win[carry:])
		if n > 0 {
			data := win[:carry+n]
			if need := headSize - len(head); need > 0 {
				head = append(head, data[carry:carry+min(n, need)]...)
			}
			if !m.InfoString && bytes.Contains(data, infoString) {
				m.InfoString = true
			}
			if add := data[carry:]; len(add) >= tailSize {
				tail = append(tail[:0], add[len(add)-tailSize:]...)
			} else if tail = append(tail, add...); len(tail) > tailSize {
				tail = append(tail[:0], tail[len(tail)-tailSize:]...)
			}
			carry = copy(win, lastN(data, keep))
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return true, m, rerr
		}
	}
	m.PackHeader = bytes.Contains(tail, magic)
	if h, ok := parseELFHeader(head); ok {
		m.NoSectionHeaders = h.shnum == 0
		m.LInfo = h.lInfoMagic(head)
	}
	return true, m, nil
}

// lInfoMagic reports "UPX!" as l_info.l_magic, 4 bytes into the l_info
// that follows the program headers. Every offset comes from the file, so
// each is checked against head before it is added to: e_phoff can be
// anything up to 2^64-1, and phoff+size would wrap around to a small
// number that passes a bounds check.
func (h elfHeader) lInfoMagic(head []byte) bool {
	n := uint64(len(head))
	if h.phoff > n {
		return false
	}
	// phnum*phentsize < 2^32 and phoff <= n < 2^17: no overflow.
	off := h.phoff + uint64(h.phnum)*uint64(h.phentsize) + 4
	return off <= n && n-off >= uint64(len(magic)) && bytes.Equal(head[off:off+uint64(len(magic))], magic)
}

func lastN(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

type elfHeader struct {
	phoff            uint64
	phentsize, phnum uint16
	shnum            uint16
}

// parseELFHeader reads the few ELF header fields Detect needs, by hand:
// debug/elf rejects some packed files, and the markers must still be read.
func parseELFHeader(b []byte) (elfHeader, bool) {
	if len(b) < 52 {
		return elfHeader{}, false
	}
	var bo binary.ByteOrder
	switch b[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return elfHeader{}, false
	}
	switch b[4] {
	case 1: // ELFCLASS32
		return elfHeader{phoff: uint64(bo.Uint32(b[0x1c:])), phentsize: bo.Uint16(b[0x2a:]), phnum: bo.Uint16(b[0x2c:]), shnum: bo.Uint16(b[0x30:])}, true
	case 2: // ELFCLASS64
		if len(b) < 64 {
			return elfHeader{}, false
		}
		return elfHeader{phoff: bo.Uint64(b[0x20:]), phentsize: bo.Uint16(b[0x36:]), phnum: bo.Uint16(b[0x38:]), shnum: bo.Uint16(b[0x3c:])}, true
	}
	return elfHeader{}, false
}

// Gate applies Policy to every ELF file in the image.
type Gate struct {
	// Policy is deny, warn or allow; "" is deny.
	Policy Policy
}

// Name is "upx".
func (Gate) Name() string { return "upx" }

// Check reads the image's filesystem once, reading only ELF files past
// their first four bytes.
func (g Gate) Check(ctx context.Context, img v1.Image) ([]report.Result, error) {
	return gates.CheckAlone(ctx, img, g)
}

// Plan implements gates.PassGate: the upx gate looks at every regular
// file's head (and an ELF file's tail) in the pass it shares with the size
// and harden gates.
func (g Gate) Plan(_ context.Context, img v1.Image, p *imagefs.Pass) (func(context.Context, *imagefs.Result) ([]report.Result, error), error) {
	policy, err := ParsePolicy(string(g.Policy))
	if err != nil {
		return nil, err
	}
	entry := ""
	if cf, err := img.ConfigFile(); err == nil && len(cf.Config.Entrypoint) > 0 {
		entry = cf.Config.Entrypoint[0]
	}
	reader := p.Files(func(e imagefs.Entry, r io.Reader) (any, error) {
		if e.Size < 4 {
			return nil, nil
		}
		isELF, m, err := Detect(r)
		if err != nil || !isELF {
			return nil, err
		}
		return m, nil
	})
	return func(_ context.Context, r *imagefs.Result) ([]report.Result, error) {
		if r.ApplyErr != nil {
			return nil, r.ApplyErr
		}
		var elfs int
		var packed []string
		for _, e := range r.FS.Entries() {
			if !e.Regular() {
				continue
			}
			note, err := r.Note(reader, e.Path)
			if err != nil {
				return nil, err
			}
			m, ok := note.(Markers)
			if !ok {
				continue
			}
			elfs++
			if m.Packed() {
				line := fmt.Sprintf("%s: %s", e.Path, m)
				if e.Path == entry {
					line = fmt.Sprintf("%s (entrypoint): %s", e.Path, m)
				}
				packed = append(packed, line)
			}
		}
		return judge(policy, elfs, packed), nil
	}, nil
}

// judge is the verdict on the ELF files found, of which packed are packed.
func judge(policy Policy, elfs int, packed []string) []report.Result {
	res := report.Result{Gate: "upx", ID: ID, Status: report.Pass, Details: packed,
		Metrics: map[string]float64{"elf_files": float64(elfs), "packed_files": float64(len(packed))}}
	if len(packed) == 0 {
		res.Message = fmt.Sprintf("no UPX-packed binary among %d ELF file(s)", elfs)
		return []report.Result{res}
	}
	names := make([]string, len(packed))
	for i, p := range packed {
		names[i], _, _ = strings.Cut(p, ":")
	}
	list := strings.Join(names, ", ")
	switch policy {
	case Deny:
		res.Status = report.Fail
		res.Message = fmt.Sprintf("UPX-packed binary: %s; build without `upx` (drop --upx-compress), or set --upx warn|allow to accept it", list)
	case Warn:
		res.Status = report.Warn
		res.Message = fmt.Sprintf("UPX-packed binary (allowed with a warning by --upx warn): %s; packed binaries start slower and cannot share pages between pods", list)
	case Allow:
		res.Message = fmt.Sprintf("UPX-packed binary allowed by --upx allow: %s", list)
	}
	return []report.Result{res}
}
