package compile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/scanner"

	"dagger/go-image/internal/safetext"
)

// The go command compiles what a package's files say, and it reads more
// than the source: an assembly file's #include "/any/path" makes the
// assembler read that file and report the first word of each of its lines
// as an "unrecognized instruction", and a .go file linked to a file of the
// machine is parsed, its first word quoted in "expected 'package', found
// …". go build's output is the error go-image prints, in a CI log that
// the pull request's author reads: a token file, a PEM key's lines, a
// .env's names. The CLI compiles on the machine itself (the Dagger module
// compiles in a builder that holds only the source and the caches), so
// before its output is shown, every file the build reads is checked to be
// what its modules hold: no link out of its module, no #include of an
// absolute path or through "..".

// HostReadFields are the go list -json fields HostReads reads.
const HostReadFields = "Dir,ImportPath,Standard,Module,GoFiles,CgoFiles,SFiles,HFiles,SysoFiles,IgnoredGoFiles,IgnoredOtherFiles"

// HostReadArgs is the go list command line whose output HostReads checks:
// every package the build compiles (-deps), with the build's own flags
// (tags decide the files).
func HostReadArgs(buildFlags []string, mains []string) []string {
	args := append([]string{"go", "list", "-e", "-deps", "-json=" + HostReadFields}, buildFlags...)
	return append(append(args, "--"), mains...)
}

// Bounds of the check: far above any package's assembly.
const (
	maxAsmFile     = 16 << 20 // bytes of one assembly file or header
	maxIncludes    = 4096     // headers followed, over the whole build
	maxHostReports = 8        // offences listed in the error
)

type listedFiles struct {
	Dir        string
	ImportPath string
	Standard   bool
	Module     *struct {
		Path string
		Dir  string
	}
	GoFiles, CgoFiles, SFiles, HFiles, SysoFiles, IgnoredGoFiles, IgnoredOtherFiles []string
}

// HostReads checks go list's output (HostReadArgs) for a build in the
// source root: every file of every package outside the standard library
// must not be a link out of its module (the source root for a package
// without one), its directory neither, and every #include of its assembly
// files and headers, followed through the headers it names, must name a
// relative path to a header of its module (or, without .., of the
// toolchain's include directories). It returns an error that names each
// offence (up to a few) and the fix, or nil.
func HostReads(root string, listJSON []byte) error {
	if len(listJSON) > MaxListOutputBytes {
		return fmt.Errorf("go list: %d bytes of output, more than %d", len(listJSON), MaxListOutputBytes)
	}
	c := &hostCheck{seen: map[string]bool{}}
	dec := json.NewDecoder(bytes.NewReader(listJSON))
	for {
		var p listedFiles
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read go list's output: %w", err)
		}
		if p.Standard || p.Dir == "" {
			continue
		}
		mod := root
		if p.Module != nil && p.Module.Dir != "" {
			mod = p.Module.Dir
		}
		c.pkg(mod, p)
	}
	if len(c.found) == 0 {
		return nil
	}
	more := ""
	if c.total > len(c.found) {
		more = fmt.Sprintf("; and %d more", c.total-len(c.found))
	}
	return fmt.Errorf("the build would read files of this machine outside its modules, and go build would quote them in its errors: %s%s: "+
		"an assembly file may #include only a header of its module or of the toolchain, by a relative path (textflag.h, go_asm.h, ../../math/fp_amd64.h), "+
		"and a package's files and directories must be files of their module, not links out of it (copy the file in)", strings.Join(c.found, "; "), more)
}

// MaxListOutputBytes bounds the go list output HostReads reads.
const MaxListOutputBytes = 256 << 20

type hostCheck struct {
	found    []string
	total    int
	seen     map[string]bool
	includes int
}

func (c *hostCheck) report(format string, args ...any) {
	c.total++
	if len(c.found) < maxHostReports {
		c.found = append(c.found, safetext.Line(fmt.Sprintf(format, args...)))
	}
}

func (c *hostCheck) pkg(mod string, p listedFiles) {
	realMod, err := filepath.EvalSymlinks(mod)
	if err != nil {
		c.report("module directory %s: %v", mod, err)
		return
	}
	if !inside(realMod, p.Dir) {
		c.report("package %s: its directory %s is a link out of its module %s", p.ImportPath, p.Dir, mod)
		return
	}
	// The directory the assembler runs in, as the kernel resolves it: a
	// leading .. of an #include climbs from there.
	realPkg, err := filepath.EvalSymlinks(p.Dir)
	if err != nil {
		return // go reports it
	}
	files := slices.Concat(p.GoFiles, p.CgoFiles, p.SFiles, p.HFiles, p.SysoFiles, p.IgnoredGoFiles, p.IgnoredOtherFiles)
	for _, f := range files {
		path := filepath.Join(p.Dir, f)
		st, err := os.Lstat(path)
		if err != nil {
			continue // go reports it
		}
		if st.Mode()&os.ModeSymlink != 0 && !inside(realMod, path) {
			target, _ := os.Readlink(path)
			c.report("%s: a link to %s, out of its module %s", path, target, mod)
			continue
		}
		if ext := filepath.Ext(f); ext == ".s" || ext == ".S" || ext == ".h" {
			c.asm(realMod, realPkg, path)
		}
	}
}

// includeName says whether an #include names a header by a relative,
// slash-separated path whose .. elements, if any, lead it: a .. after a
// name would climb from wherever a link in that name leads.
func includeName(name string) bool {
	if name == "" || filepath.IsAbs(name) || strings.Contains(name, "\\") {
		return false
	}
	rest := strings.Split(name, "/")
	for len(rest) > 0 && rest[0] == ".." {
		rest = rest[1:]
	}
	return len(rest) > 0 && !slices.Contains(rest, "..") && !slices.Contains(rest, "")
}

// inside says whether path, its links resolved, is within dir (resolved).
func inside(dir, path string) bool {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return true // missing: nothing to read; go reports it
	}
	rel, err := filepath.Rel(dir, real)
	return err == nil && filepath.IsLocal(rel)
}

// asm checks the #include directives of an assembly file or header, as
// the assembler reads them (text/scanner tokens, comments skipped, the
// name a Go string literal), and follows the headers they name. The
// assembler runs in the package directory pkg and opens a name there
// first.
func (c *hostCheck) asm(mod, pkg, path string) {
	if c.seen[path] {
		return
	}
	c.seen[path] = true
	c.includes++
	if c.includes > maxIncludes {
		c.report("%s: more than %d assembly files and headers to check", path, maxIncludes)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		c.report("%s: not a regular file", path)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, maxAsmFile+1))
	if err != nil || len(data) > maxAsmFile {
		c.report("%s: more than %d bytes of assembly", path, maxAsmFile)
		return
	}
	var s scanner.Scanner
	s.Init(bytes.NewReader(data))
	s.Mode = scanner.ScanChars | scanner.ScanFloats | scanner.ScanIdents | scanner.ScanInts | scanner.ScanStrings | scanner.ScanComments
	s.Error = func(*scanner.Scanner, string) {}
	next := func() rune {
		for {
			if t := s.Scan(); t != scanner.Comment {
				return t
			}
		}
	}
	for tok := next(); tok != scanner.EOF; tok = next() {
		if tok != '#' {
			continue
		}
		if next() != scanner.Ident || s.TokenText() != "include" {
			continue
		}
		line := s.Position.Line
		if next() != scanner.String {
			c.report("%s:%d: #include not followed by a header's name in quotes", path, line)
			continue
		}
		name, err := strconv.Unquote(s.TokenText())
		if err != nil || !includeName(name) {
			c.report("%s:%d: #include %s", path, line, s.TokenText())
			continue
		}
		// The assembler opens the name in the package directory first,
		// then in its include directories (go_asm.h's, GOROOT's
		// textflag.h). A header of the package is checked in turn, and
		// must stay in the module ("../../math/fp_amd64.h" of
		// cloudflare/circl does); a name with .. that the package
		// directory does not hold would be looked for up from GOROOT's.
		h := filepath.Join(pkg, name)
		if _, err := os.Lstat(h); err != nil {
			if strings.HasPrefix(name, "..") {
				c.report("%s:%d: #include %q: no such header from the package, and the assembler would look for it up from its include directories", path, line, name)
			}
			continue
		}
		if !inside(mod, h) {
			c.report("%s:%d: #include %q, out of its module", path, line, name)
			continue
		}
		c.asm(mod, pkg, h)
	}
}
