// Package lint holds go/analysis analyzers for the Go-on-Kubernetes mistakes
// that a smoke run cannot always provoke: Kubernetes clients built per
// request, watches and informers that can never be cancelled, HTTP servers
// that cannot drain, and probes served by the business mux. Each diagnostic
// names the fix.
//
// The analyzers follow values across functions and packages the way a
// reviewer would: what a function does with its parameters and results is
// exported as a go/analysis fact, so `go vet -vettool=k8slint` (one package
// at a time) and the in-process checker (Check) reach the same findings.
package lint

import (
	"go/ast"
	"go/types"
	"strings"
	"sync/atomic"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
)

// Analyzers returns every analyzer, in report order. IgnoreComments checks
// the suppression comments the others honour.
func Analyzers() []*analysis.Analyzer {
	return []*analysis.Analyzer{ClientPerRequest, WatchCancel, HTTPShutdown, SIGTERM, HealthMux, IgnoreComments}
}

// inScope reports whether the pass is over the service's own code. The vet
// tool also runs on every dependency (to compute facts); those packages are
// not the service's to fix, and skipping them keeps the lint near go vet's
// speed. The in-process checker only runs on the service's packages.
func inScope(pass *analysis.Pass) bool {
	return pass.Module != nil && pass.Module.Version == "" && pass.TypesInfo != nil
}

// sameProgram reports whether pkg belongs to the code under analysis, whose
// functions carry facts, rather than to a dependency judged by its name.
func sameProgram(pass *analysis.Pass, pkg *types.Package) bool {
	if pkg == nil {
		return false
	}
	if pkg == pass.Pkg {
		return true
	}
	if mod := pass.Module.Path; mod != "" {
		return pkg.Path() == mod || strings.HasPrefix(pkg.Path(), mod+"/")
	}
	// GOPATH mode (the analyzers' own tests): a path without a domain.
	first, _, _ := strings.Cut(pkg.Path(), "/")
	return !strings.Contains(first, ".")
}

// callee returns the function or method a call invokes, or nil.
func callee(info *types.Info, call *ast.CallExpr) *types.Func {
	fn, _ := typeutil.Callee(info, call).(*types.Func)
	return fn
}

func signature(fn *types.Func) *types.Signature { return fn.Type().(*types.Signature) }

// isFunc reports whether fn is the package-level function path.name.
func isFunc(fn *types.Func, path string, names ...string) bool {
	if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != path || signature(fn).Recv() != nil {
		return false
	}
	for _, n := range names {
		if fn.Name() == n {
			return true
		}
	}
	return false
}

// isMethod reports whether fn is a method named name declared in package path.
func isMethod(fn *types.Func, path, name string) bool {
	return fn != nil && fn.Pkg() != nil && fn.Name() == name && signature(fn).Recv() != nil && fn.Pkg().Path() == path
}

// isServerMethod reports whether fn is (*net/http.Server).name.
func isServerMethod(fn *types.Func, names ...string) bool {
	for _, n := range names {
		if isMethod(fn, "net/http", n) && isNamed(recvType(fn), "net/http", "Server") {
			return true
		}
	}
	return false
}

// isBackground reports whether e is context.Background() or context.TODO().
func isBackground(info *types.Info, e ast.Expr) (string, bool) {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		return "", false
	}
	fn := callee(info, call)
	if isFunc(fn, "context", "Background", "TODO") {
		return "context." + fn.Name() + "()", true
	}
	return "", false
}

// objectOf returns the variable or field an expression names (x, s.srv,
// &x, *p), or nil.
func objectOf(info *types.Info, e ast.Expr) types.Object {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		return info.ObjectOf(e)
	case *ast.SelectorExpr:
		return info.ObjectOf(e.Sel)
	case *ast.UnaryExpr:
		return objectOf(info, e.X)
	case *ast.StarExpr:
		return objectOf(info, e.X)
	}
	return nil
}

func inspectorOf(pass *analysis.Pass) *inspector.Inspector {
	return pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
}

// isNamed reports whether t (or *t) is the named type path.name.
func isNamed(t types.Type, path, name string) bool {
	if t == nil {
		return false
	}
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == path && n.Obj().Name() == name
}

func recvType(fn *types.Func) types.Type {
	if r := signature(fn).Recv(); r != nil {
		return r.Type()
	}
	return nil
}

// hasMethod reports whether t (or *t) has a method named name.
func hasMethod(t types.Type, name string) bool {
	if t == nil {
		return false
	}
	obj, _, _ := types.LookupFieldOrMethod(t, true, nil, name)
	_, ok := obj.(*types.Func)
	return ok
}

// funcName renders fn for a message: pkg.F or pkg.T.M.
func funcName(fn *types.Func) string {
	name := fn.Name()
	if r := recvType(fn); r != nil {
		if p, ok := r.(*types.Pointer); ok {
			r = p.Elem()
		}
		if n, ok := types.Unalias(r).(*types.Named); ok {
			name = n.Obj().Name() + "." + name
		}
	}
	if fn.Pkg() != nil {
		name = fn.Pkg().Name() + "." + name
	}
	return name
}

// funcDecl is a declared function or method with its declaration.
type funcDecl struct {
	fn   *types.Func
	decl *ast.FuncDecl
}

// funcDecls lists the package's declared functions and methods in source
// order, so that every walk over them, and the facts they produce, are the
// same in the vet tool and the checker.
func funcDecls(pass *analysis.Pass) []funcDecl {
	var out []funcDecl
	for _, f := range pass.Files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				if fn, ok := pass.TypesInfo.Defs[fd.Name].(*types.Func); ok {
					out = append(out, funcDecl{fn, fd})
				}
			}
		}
	}
	return out
}

// enclosingFunc returns the innermost function (declaration or literal)
// of a stack from inspector.WithStack, and its type.
func enclosingFunc(info *types.Info, stack []ast.Node) (ast.Node, *types.Signature) {
	for i := len(stack) - 1; i >= 0; i-- {
		switch f := stack[i].(type) {
		case *ast.FuncLit:
			sig, _ := info.TypeOf(f).(*types.Signature)
			return f, sig
		case *ast.FuncDecl:
			if fn, ok := info.Defs[f.Name].(*types.Func); ok {
				return f, signature(fn)
			}
			return f, nil
		}
	}
	return nil, nil
}

// specNames returns the names a var declaration assigns, as expressions.
func specNames(vs *ast.ValueSpec) []ast.Expr {
	out := make([]ast.Expr, len(vs.Names))
	for i, id := range vs.Names {
		out[i] = id
	}
	return out
}

// propagateSteps counts propagate's steps, for the test that keeps it
// linear.
var propagateSteps atomic.Int64

// propagate runs step on every declaration, then again on a declaration
// only when step changed a function it calls in this package, until
// nothing changes: the fixed point of facts that flow from callee to
// caller (a helper that shuts down its parameter makes its callers such
// helpers). Rounds over every declaration until one changes nothing took
// time quadratic in a call chain's length: a hostile package of 3,000
// functions calling each other in a line took 12 s, 30,000 would take 20
// minutes. step must depend on the package's own functions only through
// the calls in the declaration's body.
func propagate(pass *analysis.Pass, decls []funcDecl, step func(funcDecl) bool) {
	callers := map[*types.Func][]int{}
	for i, d := range decls {
		ast.Inspect(d.decl.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if c := callee(pass.TypesInfo, call); c != nil && c.Pkg() == pass.Pkg {
					if cs := callers[c]; len(cs) == 0 || cs[len(cs)-1] != i {
						callers[c] = append(cs, i)
					}
				}
			}
			return true
		})
	}
	queued := make([]bool, len(decls))
	queue := make([]int, len(decls))
	for i := range decls {
		queue[i], queued[i] = i, true
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		queued[i] = false
		propagateSteps.Add(1)
		if !step(decls[i]) {
			continue
		}
		for _, c := range callers[decls[i].fn] {
			if !queued[c] {
				queued[c] = true
				queue = append(queue, c)
			}
		}
	}
}
