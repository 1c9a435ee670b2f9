package lint

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
)

// WatchCancel flags client-go watches and informers that nothing can stop:
// a Watch on context.Background()/TODO(), or an informer or factory started
// with a nil, never-closed or never-firing stop channel. They keep API server
// connections open and goroutines running through shutdown.
var WatchCancel = &analysis.Analyzer{
	Name:     "k8swatchcancel",
	Doc:      "report client-go Watch calls and informer Run/Start calls that cannot be cancelled",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runWatchCancel,
}

const fixCancel = "pass a cancellable context (ctx from signal.NotifyContext or context.WithCancel, cancelled on SIGTERM)"

func runWatchCancel(pass *analysis.Pass) (any, error) {
	ins := inspectorOf(pass)
	// Channels somebody closes can stop an informer; parameters are the
	// caller's to close.
	closed := map[types.Object]bool{}
	ins.Preorder([]ast.Node{(*ast.FuncType)(nil), (*ast.CallExpr)(nil)}, func(n ast.Node) {
		if ft, ok := n.(*ast.FuncType); ok {
			for _, f := range ft.Params.List {
				for _, name := range f.Names {
					if obj := pass.TypesInfo.Defs[name]; obj != nil {
						closed[obj] = true
					}
				}
			}
			return
		}
		call := n.(*ast.CallExpr)
		if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok && len(call.Args) == 1 {
			if b, ok := pass.TypesInfo.Uses[id].(*types.Builtin); ok && b.Name() == "close" {
				if obj := objectOf(pass.TypesInfo, call.Args[0]); obj != nil {
					closed[obj] = true
				}
			}
		}
	})
	ins.Preorder([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node) {
		call := n.(*ast.CallExpr)
		fn := callee(pass.TypesInfo, call)
		if fn == nil || len(call.Args) == 0 {
			return
		}
		switch {
		case isMethod(fn, clientGo, "Watch"):
			if bg, ok := isBackground(pass.TypesInfo, call.Args[0]); ok {
				pass.Reportf(call.Pos(), "Watch with %s can never be cancelled: the watch and its API server connection outlive shutdown; %s", bg, fixCancel)
			}
		case isMethod(fn, clientGo, "Run"), isMethod(fn, clientGo, "Start"), isMethod(fn, clientGo, "WaitForCacheSync"):
			if bg, ok := isBackground(pass.TypesInfo, call.Args[0]); ok {
				pass.Reportf(call.Pos(), "%s with %s can never be cancelled; %s", fn.Name(), bg, fixCancel)
				return
			}
			if why := neverStops(pass.TypesInfo, pass.Pkg, call.Args[0], closed); why != "" {
				pass.Reportf(call.Pos(), "%s(%s): the stop channel %s, so the informer runs until the process is killed; pass ctx.Done() of a cancellable context (signal.NotifyContext or context.WithCancel, cancelled on SIGTERM)", fn.Name(), types.ExprString(call.Args[0]), why)
			}
		}
	})
	return nil, nil
}

// neverStops explains why a stop channel argument can never fire, or "".
func neverStops(info *types.Info, pkg *types.Package, e ast.Expr, closed map[types.Object]bool) string {
	e = ast.Unparen(e)
	if tv, ok := info.Types[e]; ok && tv.IsNil() {
		return "is nil"
	}
	if _, ok := info.TypeOf(e).Underlying().(*types.Chan); !ok {
		return ""
	}
	switch x := e.(type) {
	case *ast.CallExpr:
		if id, ok := ast.Unparen(x.Fun).(*ast.Ident); ok {
			if b, ok := info.Uses[id].(*types.Builtin); ok && b.Name() == "make" {
				return "is made in place and never closed"
			}
		}
		// context.Background().Done() returns nil.
		if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Done" {
			if bg, ok := isBackground(info, sel.X); ok {
				return "is " + bg + ".Done(), which never closes"
			}
		}
	case *ast.SelectorExpr:
		obj := info.Uses[x.Sel]
		if obj != nil && obj.Name() == "NeverStop" && obj.Pkg() != nil && obj.Pkg().Path() == "k8s.io/apimachinery/pkg/util/wait" {
			return "is wait.NeverStop"
		}
		if v, ok := obj.(*types.Var); ok && v.IsField() && v.Pkg() == pkg && !closed[v] {
			return "is never closed in this package"
		}
	case *ast.Ident:
		if v, ok := info.Uses[x].(*types.Var); ok && !closed[v] {
			return "is never closed in this package"
		}
	}
	return ""
}
