// Package moduleapi reads the module's Dagger surface from its Go source,
// the way the Go SDK derives it: the constructor New and the exported
// methods of *GoImage, in every file of package main at the module root
// (main.go, options.go, build.go, …), with names and arguments in kebab
// case and the doc comments that `dagger functions` shows. Tests use it to
// check what they call and document against what the module exposes.
package moduleapi

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// Func is one function as `dagger call` names it.
type Func struct {
	GoName string          // the Go method name, as generated bindings call it
	Args   map[string]bool // kebab-case argument → is a bool flag
	Chain  bool            // returns the module object, so another function may follow
	// Doc is the function's doc comment; Params are its arguments (ctx
	// left out) in order, with theirs.
	Doc    string
	Params []Param
	// File is the source file that declares it, relative to the module root.
	File string
}

// Param is one argument of a function.
type Param struct {
	GoName string // as declared, e.g. businessPort
	Type   string // as written, e.g. *dagger.File
	// Doc is the comment right above the argument, pragmas (+optional,
	// +default=…) included, as the SDK reads it.
	Doc string
}

// Read parses the module's Go files in dir (package main; generated files,
// such as dagger.gen.go, and tests left out) and returns its functions by
// kebab-case name; the constructor's key is "".
func Read(dir string) (map[string]Func, error) {
	files, err := Files(dir)
	if err != nil {
		return nil, err
	}
	api := map[string]Func{}
	for _, sf := range files {
		cm := ast.NewCommentMap(sf.Fset, sf.AST, sf.AST.Comments)
		for _, d := range sf.AST.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || !fd.Name.IsExported() {
				continue
			}
			name := Kebab(fd.Name.Name)
			if fd.Name.Name == "New" && fd.Recv == nil {
				name = ""
			} else if fd.Recv == nil || !isGoImage(fd.Recv.List[0].Type) {
				continue
			}
			if prev, dup := api[name]; dup {
				return nil, fmt.Errorf("%s: %s declared twice (also in %s)", sf.Name, fd.Name.Name, prev.File)
			}
			fn := Func{GoName: fd.Name.Name, Args: map[string]bool{}, Doc: fd.Doc.Text(), File: sf.Name}
			for _, p := range fd.Type.Params.List {
				id, ok := p.Type.(*ast.Ident)
				isBool := ok && id.Name == "bool"
				var doc strings.Builder
				for _, g := range cm[p] {
					if g.End() < p.Pos() {
						doc.WriteString(g.Text())
					}
				}
				for _, n := range p.Names {
					if n.Name == "ctx" {
						continue
					}
					fn.Args[Kebab(n.Name)] = isBool
					fn.Params = append(fn.Params, Param{GoName: n.Name, Type: types.ExprString(p.Type), Doc: doc.String()})
				}
			}
			if res := fd.Type.Results; res != nil && len(res.List) > 0 {
				fn.Chain = isGoImage(res.List[0].Type)
			}
			api[name] = fn
		}
	}
	return api, nil
}

// File is one parsed source file of the module.
type File struct {
	Name string // relative to the module root
	Fset *token.FileSet
	AST  *ast.File
}

// Files parses every non-test, non-generated Go file of package main in
// dir, sorted by name, with comments.
func Files(dir string) ([]File, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		if ast.IsGenerated(f) || f.Name.Name != "main" {
			continue
		}
		out = append(out, File{Name: filepath.Base(p), Fset: fset, AST: f})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no Go file of package main in %s: pass the module root", dir)
	}
	return out, nil
}

func isGoImage(e ast.Expr) bool {
	star, ok := e.(*ast.StarExpr)
	if !ok {
		return false
	}
	id, ok := star.X.(*ast.Ident)
	return ok && id.Name == "GoImage"
}

// Kebab is a Go name in kebab case: WithMaxSize → with-max-size.
func Kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
