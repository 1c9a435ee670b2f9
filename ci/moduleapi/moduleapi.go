// Package moduleapi reads the module's Dagger surface from main.go, the way
// the Go SDK derives it: the constructor New and the exported methods of
// *GoImage, with names and arguments in kebab case. Tests use it to check
// what they call against what the module exposes.
package moduleapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"unicode"
)

// Func is one function as `dagger call` names it.
type Func struct {
	GoName string          // the Go method name, as generated bindings call it
	Args   map[string]bool // kebab-case argument → is a bool flag
	Chain  bool            // returns the module object, so another function may follow
}

// Read parses mainGo and returns its functions by kebab-case name; the
// constructor's key is "".
func Read(mainGo string) (map[string]Func, error) {
	f, err := parser.ParseFile(token.NewFileSet(), mainGo, nil, 0)
	if err != nil {
		return nil, err
	}
	api := map[string]Func{}
	for _, d := range f.Decls {
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
		fn := Func{GoName: fd.Name.Name, Args: map[string]bool{}}
		for _, p := range fd.Type.Params.List {
			id, ok := p.Type.(*ast.Ident)
			isBool := ok && id.Name == "bool"
			for _, n := range p.Names {
				if n.Name != "ctx" {
					fn.Args[Kebab(n.Name)] = isBool
				}
			}
		}
		if res := fd.Type.Results; res != nil && len(res.List) > 0 {
			fn.Chain = isGoImage(res.List[0].Type)
		}
		api[name] = fn
	}
	return api, nil
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
