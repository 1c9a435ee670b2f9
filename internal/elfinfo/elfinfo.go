// Package elfinfo reads the facts the hardening gate needs from an ELF
// binary: is it static, is it stripped, and how was it built (Go build
// info). It decides nothing; gates compare these facts with the recipe.
package elfinfo

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Magic is the first four bytes of every ELF file.
var Magic = []byte{0x7f, 'E', 'L', 'F'}

// IsELF reports whether b starts with the ELF magic.
func IsELF(b []byte) bool { return bytes.HasPrefix(b, Magic) }

// Info is what one ELF file says about itself.
type Info struct {
	// Interp is the PT_INTERP dynamic loader, "" for a static binary.
	Interp string
	// Needed are the DT_NEEDED shared libraries.
	Needed []string
	// SymbolSections are the sections a stripped binary lacks: .symtab and
	// DWARF (.debug_*, .zdebug_*), sorted.
	SymbolSections []string
	// Sections is the number of section headers; 0 means they were removed
	// (as sstrip and UPX do).
	Sections int
	// Go is the Go build info, nil when the file is not a Go binary.
	Go *GoBuild
}

// GoBuild is the part of debug/buildinfo that the gates judge.
type GoBuild struct {
	GoVersion string
	Path      string
	// Settings are the -X style build settings: -trimpath, CGO_ENABLED,
	// -ldflags, GOOS, GOARCH…
	Settings map[string]string
}

// Static reports a binary that needs no dynamic loader or shared library.
func (i Info) Static() bool { return i.Interp == "" && len(i.Needed) == 0 }

// Stripped reports a binary without a symbol table or debug info.
func (i Info) Stripped() bool { return len(i.SymbolSections) == 0 }

// Read parses an ELF file. The file is untrusted (an image's entrypoint
// can be anything): debug/elf and debug/buildinfo bound what they allocate
// by what the reader holds, and a panic in either is returned as an error
// naming the malformed file, never propagated.
func Read(r io.ReaderAt) (info Info, err error) {
	defer func() {
		if p := recover(); p != nil {
			info, err = Info{}, fmt.Errorf("%w: the ELF parser crashed on it (%v)", ErrMalformed, p)
		}
	}()
	return read(r)
}

// ErrMalformed is wrapped by the errors of a file whose ELF structure is
// broken beyond what the parsers handle.
var ErrMalformed = errors.New("malformed ELF file")

func read(r io.ReaderAt) (Info, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return Info{}, fmt.Errorf("not a readable ELF file: %w", err)
	}
	defer f.Close()
	var info Info
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
		if err != nil {
			return Info{}, fmt.Errorf("read PT_INTERP: %w", err)
		}
		info.Interp = strings.TrimRight(string(b), "\x00")
		if info.Interp == "" {
			info.Interp = "(empty PT_INTERP)"
		}
	}
	// DynString fails with ErrNoSymbols-like errors when there is no
	// dynamic section: that is a static binary, not a read error.
	if f.Section(".dynamic") != nil {
		needed, err := f.DynString(elf.DT_NEEDED)
		if err != nil {
			return Info{}, fmt.Errorf("read DT_NEEDED: %w", err)
		}
		info.Needed = needed
	} else if hasDynamicSegment(f) {
		// No section headers but a PT_DYNAMIC segment: treat as dynamic
		// without names rather than claim it static.
		info.Needed = []string{"(PT_DYNAMIC present, section headers missing)"}
	}
	info.Sections = len(f.Sections)
	for _, s := range f.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			info.SymbolSections = append(info.SymbolSections, s.Name)
		}
	}
	sort.Strings(info.SymbolSections)
	bi, err := GoBuildInfo(r)
	switch {
	case err == nil:
		g := &GoBuild{GoVersion: bi.GoVersion, Path: bi.Path, Settings: map[string]string{}}
		for _, s := range bi.Settings {
			g.Settings[s.Key] = s.Value
		}
		info.Go = g
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Info{}, fmt.Errorf("read Go build info: %w", err)
	}
	return info, nil
}

// GoBuildInfo reads the Go build information of an untrusted binary, with
// a panic in debug/buildinfo turned into an error: every gate and the SBOM
// read build info through here.
func GoBuildInfo(r io.ReaderAt) (bi *buildinfo.BuildInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			bi, err = nil, fmt.Errorf("%w: the Go build info reader crashed on it (%v)", ErrMalformed, p)
		}
	}()
	return buildinfo.Read(r)
}

func hasDynamicSegment(f *elf.File) bool {
	for _, p := range f.Progs {
		if p.Type == elf.PT_DYNAMIC {
			return true
		}
	}
	return false
}
