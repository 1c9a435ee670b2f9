// Package lint holds go/analysis analyzers for the Go-on-Kubernetes mistakes
// that a smoke run cannot always provoke: Kubernetes clients built per
// request, watches and informers that can never be cancelled, HTTP servers
// that cannot drain, and probes served by the business mux. Each diagnostic
// names the fix.
package lint

import (
	"go/ast"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
)

// Analyzers returns every analyzer, in report order.
func Analyzers() []*analysis.Analyzer {
	return []*analysis.Analyzer{ClientPerRequest, WatchCancel, HTTPShutdown, HealthMux}
}

const clientGo = "k8s.io/client-go/"

// callee returns the function or method a call invokes, or nil.
func callee(info *types.Info, call *ast.CallExpr) *types.Func {
	fn, _ := typeutil.Callee(info, call).(*types.Func)
	return fn
}

// isFunc reports whether fn is the package-level function path.name.
func isFunc(fn *types.Func, path string, names ...string) bool {
	if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != path || fn.Type().(*types.Signature).Recv() != nil {
		return false
	}
	for _, n := range names {
		if fn.Name() == n {
			return true
		}
	}
	return false
}

// isMethod reports whether fn is a method named name declared in a package
// whose path is path or, with a trailing slash, starts with it.
func isMethod(fn *types.Func, path, name string) bool {
	if fn == nil || fn.Pkg() == nil || fn.Name() != name || fn.Type().(*types.Signature).Recv() == nil {
		return false
	}
	p := fn.Pkg().Path()
	if strings.HasSuffix(path, "/") {
		return strings.HasPrefix(p, path)
	}
	return p == path
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

// objectOf returns the variable or field an expression names (x, s.srv), or nil.
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
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == path && n.Obj().Name() == name
}
