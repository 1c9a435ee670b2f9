package recipe

import (
	"path"
	"slices"
	"strconv"
	"strings"
)

// Batch is one go build that compiles several binaries of the same
// recipe at once: the packages they share are compiled once and their
// links run side by side, which separate go builds cannot share while
// they run. Each binary comes out as it would alone (the same flags; a
// test checks the digests).
type Batch struct {
	// Options are the binaries' recipes, which differ in Main and Name
	// only.
	Options []Options
	// Dir is the batch's own directory, below the one Batches was given:
	// two batches may write files of the same name (one binary for two
	// platforms).
	Dir string
	// Command writes every binary into Dir.
	Command Command
	// Files are the file names go build gives the binaries in Dir, in
	// Options order.
	Files []string
}

// Batches groups the recipes (normalized, each with its Name) into go
// builds that write below dir: recipes with the same compile command but
// for Main share one, unless go would give two of them the same file
// name. The order of the recipes is kept within and across batches.
func Batches(opts []Options, modulePath, dir string) []Batch {
	var out []Batch
	index := map[string][]int{} // compile key → batches with that key
	for _, o := range opts {
		key := compileKey(o)
		file := ExecName(ImportPath(o.Main, modulePath))
		placed := false
		for _, i := range index[key] {
			if !slices.Contains(out[i].Files, file) {
				out[i].Options = append(out[i].Options, o)
				out[i].Files = append(out[i].Files, file)
				placed = true
				break
			}
		}
		if !placed {
			index[key] = append(index[key], len(out))
			out = append(out, Batch{Options: []Options{o}, Files: []string{file}})
		}
	}
	for i, b := range out {
		out[i].Dir = path.Join(dir, strconv.Itoa(i))
		if len(b.Options) == 1 {
			// Alone, the binary is written under its own name, as Compile does.
			out[i].Files = []string{b.Options[0].Name}
			out[i].Command = b.Options[0].Compile(path.Join(out[i].Dir, b.Options[0].Name))
			continue
		}
		c := b.Options[0].Compile(out[i].Dir + "/")
		c.Args = c.Args[:len(c.Args)-1] // the first Main
		for _, o := range b.Options {
			c.Args = append(c.Args, o.Main)
		}
		out[i].Command = c
	}
	return out
}

// compileKey is the compile command without its output and package.
func compileKey(o Options) string {
	c := o.Compile("")
	return strings.Join(c.Args[:len(c.Args)-2], "\x00") + "\x01" + strings.Join(c.Env, "\x00")
}

// ImportPath is the import path of main, a directory relative to the
// root of the module modulePath.
func ImportPath(main, modulePath string) string {
	m := path.Clean(main)
	if m == "." {
		return modulePath
	}
	return modulePath + "/" + strings.TrimPrefix(m, "./")
}

// ExecName is the file name go build gives the binary of importPath in
// an output directory (cmd/go's DefaultExecName in module mode): the last
// element, or the one before a major-version suffix such as /v2.
func ExecName(importPath string) string {
	dir, elem := path.Split(importPath)
	if elem != importPath && isVersion(elem) {
		_, elem = path.Split(path.Clean(dir))
	}
	return elem
}

// isVersion is cmd/go's isVersionElement: v2, v3, … (not v0 or v1).
func isVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' || s[1] == '0' || s[1] == '1' && len(s) == 2 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
