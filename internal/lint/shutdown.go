package lint

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
)

// HTTPShutdown flags HTTP servers that cannot drain on SIGTERM: the
// package-level http.ListenAndServe in a main package (no handle to shut
// down), an http.Server whose Shutdown is never called, and Shutdown with a
// context that has no deadline (a hung request then holds the pod until the
// kubelet's SIGKILL).
var HTTPShutdown = &analysis.Analyzer{
	Name:     "httpshutdown",
	Doc:      "report HTTP servers that are never shut down, or shut down without a deadline",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runHTTPShutdown,
}

const fixShutdown = "on SIGTERM (signal.NotifyContext) call srv.Shutdown with context.WithTimeout(context.Background(), 25*time.Second), below terminationGracePeriodSeconds"

func runHTTPShutdown(pass *analysis.Pass) (any, error) {
	ins := inspectorOf(pass)
	type server struct {
		lit *ast.CompositeLit
		obj types.Object // the variable or field holding it, if any
	}
	var servers []server
	shut := map[types.Object]bool{}
	anyShutdown := false
	ins.WithStack([]ast.Node{(*ast.CompositeLit)(nil), (*ast.CallExpr)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push {
			return true
		}
		switch n := n.(type) {
		case *ast.CompositeLit:
			if isNamed(pass.TypesInfo.TypeOf(n), "net/http", "Server") {
				servers = append(servers, server{n, holder(pass.TypesInfo, n, stack)})
			}
		case *ast.CallExpr:
			fn := callee(pass.TypesInfo, n)
			switch {
			case pass.Pkg.Name() == "main" && isFunc(fn, "net/http", "ListenAndServe", "ListenAndServeTLS"):
				pass.Reportf(n.Pos(), "http.%s gives no handle to shut the server down: SIGTERM cuts in-flight requests; create srv := &http.Server{Addr: …, Handler: …}, run srv.ListenAndServe() in a goroutine and %s", fn.Name(), fixShutdown)
			case isMethod(fn, "net/http", "Shutdown") && isNamed(recvType(fn), "net/http", "Server"):
				anyShutdown = true
				if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok {
					if obj := objectOf(pass.TypesInfo, sel.X); obj != nil {
						shut[obj] = true
					}
				}
				if len(n.Args) == 1 {
					if bg, ok := isBackground(pass.TypesInfo, n.Args[0]); ok {
						pass.Reportf(n.Pos(), "Shutdown(%s) has no deadline: one hung request keeps the process alive until the kubelet's SIGKILL; pass sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second), below terminationGracePeriodSeconds", bg)
					}
				}
			}
		}
		return true
	})
	for _, s := range servers {
		if (s.obj != nil && !shut[s.obj]) || (s.obj == nil && !anyShutdown) {
			pass.Reportf(s.lit.Pos(), "this http.Server is never shut down: SIGTERM cuts its in-flight requests; %s", fixShutdown)
		}
	}
	return nil, nil
}

// holder returns the variable or field an http.Server literal is stored in:
// srv := &http.Server{…}, var srv = …, s.srv = …, T{srv: &http.Server{…}}.
func holder(info *types.Info, lit *ast.CompositeLit, stack []ast.Node) types.Object {
	var expr ast.Node = lit
	for i := len(stack) - 2; i >= 0; i-- {
		switch p := stack[i].(type) {
		case *ast.UnaryExpr, *ast.ParenExpr:
			expr = p
			continue
		case *ast.AssignStmt:
			for j, r := range p.Rhs {
				if r == expr && j < len(p.Lhs) {
					return objectOf(info, p.Lhs[j])
				}
			}
		case *ast.ValueSpec:
			for j, v := range p.Values {
				if v == expr && j < len(p.Names) {
					return info.Defs[p.Names[j]]
				}
			}
		case *ast.KeyValueExpr:
			if p.Value == expr {
				if id, ok := p.Key.(*ast.Ident); ok {
					return info.ObjectOf(id)
				}
			}
		}
		return nil
	}
	return nil
}

func recvType(fn *types.Func) types.Type {
	if r := fn.Type().(*types.Signature).Recv(); r != nil {
		return r.Type()
	}
	return nil
}
