package lint

import (
	"fmt"
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
)

// HTTPShutdown flags HTTP servers that cannot drain on SIGTERM:
//   - http.ListenAndServe[TLS], in any package: there is no handle to shut
//     that server down;
//   - an http.Server that is never shut down. A server that is returned,
//     stored, passed on or captured counts as shut down when a Shutdown (or
//     Close) reaches it anywhere in the program, across functions and
//     packages; one handed to code the analyzer cannot see (another
//     module's function, a controller-runtime manager) is that code's;
//   - Shutdown with a context that has no deadline (a hung request then holds
//     the pod until the kubelet's SIGKILL): context.Background(), or a
//     context derived from it by WithCancel, WithValue or NotifyContext, or
//     any WithoutCancel (see contexts), also through a helper's ctx
//     parameter: a caller's deadline counts, a caller's context.Background()
//     does not;
//   - an entry function (main, a function main ends after, a cobra RunE, a
//     mitchellh/cli Command.Run, an urfave/cli Action) that returns as soon
//     as ListenAndServe returns http.ErrServerClosed while Shutdown, started
//     in another goroutine, is still draining: the process exits and cuts
//     the requests Shutdown was waiting for;
//   - serve code that exits the process on any error of a server that is
//     shut down: ErrServerClosed comes back as soon as Shutdown starts.
var HTTPShutdown = &analysis.Analyzer{
	Name:      "httpshutdown",
	Doc:       "report HTTP servers that are never shut down, shut down without a deadline, or whose program exits before Shutdown has drained",
	Requires:  []*analysis.Analyzer{inspect.Analyzer},
	Run:       runHTTPShutdown,
	FactTypes: []analysis.Fact{new(shutsParams), new(returnsServer), new(shutdownCtx)},
}

// shutsParams: the function shuts down the servers passed at these indices.
type shutsParams struct{ Index []int }

// returnsServer: the function returns a server that its package never shuts
// down (created at Created); its callers decide.
type returnsServer struct{ Created string }

// shutdownCtx: the function passes its context parameters at these indices
// to a Shutdown, so their deadline is the drain's.
type shutdownCtx struct{ Index []int }

func (*shutsParams) AFact()   {}
func (*returnsServer) AFact() {}
func (*shutdownCtx) AFact()   {}

func (f *shutsParams) String() string   { return fmt.Sprintf("shutsParams%v", f.Index) }
func (f *returnsServer) String() string { return "returnsServer(" + f.Created + ")" }
func (f *shutdownCtx) String() string   { return fmt.Sprintf("shutdownCtx%v", f.Index) }

const fixShutdown = "on SIGTERM (signal.NotifyContext) call srv.Shutdown with context.WithTimeout(context.Background(), 25*time.Second), below terminationGracePeriodSeconds"

func runHTTPShutdown(pass *analysis.Pass) (any, error) {
	if !inScope(pass) {
		return nil, nil
	}
	info := pass.TypesInfo
	r := newReporter(pass)
	imported := func(fn *types.Func, fact analysis.Fact) bool {
		return fn != nil && fn.Pkg() != pass.Pkg && sameProgram(pass, fn.Pkg()) && pass.ImportObjectFact(fn, fact)
	}
	fl := newFlow(pass,
		func(fn *types.Func) (string, bool) {
			var f returnsServer
			if imported(fn, &f) {
				return f.Created, true
			}
			return "", false
		},
		func(fn *types.Func) []int {
			var f shutsParams
			if imported(fn, &f) {
				return f.Index
			}
			return nil
		})
	shut := fl.shut()

	// Facts for the packages that import this one.
	for _, d := range funcDecls(pass) {
		fn := d.fn
		sig := signature(fn)
		var idx []int
		for i := 0; i < sig.Params().Len(); i++ {
			if shut[sig.Params().At(i)] {
				idx = append(idx, i)
			}
		}
		if len(idx) > 0 {
			pass.ExportObjectFact(fn, &shutsParams{Index: idx})
		}
	}

	// Servers created here (or returned to us by another package) that
	// nothing shuts down.
	lits := fl.origins
	inspectorOf(pass).Preorder([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node) {
		call := n.(*ast.CallExpr)
		if fn := callee(info, call); fn != nil {
			if created, ok := fl.returnsServer(fn); ok {
				lits = append(lits, origin{expr: call, from: funcName(fn), created: created})
			}
		}
	})
	for _, o := range lits {
		if shut[o.expr] {
			continue
		}
		reached := fl.reach(o.expr)
		if _, ok := fl.escapes(reached); ok {
			// Returned by an exported function: its callers decide.
			for n := range reached {
				if res, ok := n.(result); ok && res.fn.Pkg() == pass.Pkg && !shut[res] && (res.fn.Exported() || isMethodOfExported(res.fn)) {
					created := where(pass.Fset, o.expr.Pos())
					if o.created != "" {
						created = o.created
					}
					pass.ExportObjectFact(res.fn, &returnsServer{Created: created})
				}
			}
			continue
		}
		if o.from != "" {
			r.reportf(o.expr.Pos(), "the http.Server that %s returns (created at %s) is never shut down: SIGTERM cuts its in-flight requests; %s", o.from, o.created, fixShutdown)
		} else {
			r.reportf(o.expr.Pos(), "this http.Server%s is never shut down: SIGTERM cuts its in-flight requests; %s", serverName(info, o.expr), fixShutdown)
		}
	}

	sh := newShutdowns(pass)
	deadlines(pass, r, sh)
	mainDrain(pass, r, fl, shut, sh, exitOnClosed(pass, r, fl, shut))

	inspectorOf(pass).Preorder([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node) {
		call := n.(*ast.CallExpr)
		if fn := callee(info, call); isFunc(fn, "net/http", "ListenAndServe", "ListenAndServeTLS") {
			r.reportf(call.Pos(), "http.%s gives no handle to shut the server down: SIGTERM cuts in-flight requests; create srv := &http.Server{Addr: …, Handler: …}, run srv.ListenAndServe() in a goroutine and %s", fn.Name(), fixShutdown)
		}
	})
	return nil, nil
}

// serverName names a server literal for a message by its address.
func serverName(info *types.Info, e ast.Expr) string {
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return ""
	}
	for _, el := range lit.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "Addr" {
				return " (Addr: " + types.ExprString(kv.Value) + ")"
			}
		}
	}
	return ""
}

// deadlines reports Shutdown calls whose context has no deadline: directly,
// through a variable however it was derived (WithCancel, WithValue,
// NotifyContext of context.Background(); anything WithoutCancel), or through
// the ctx parameter of a helper whose caller passes such a context.
func deadlines(pass *analysis.Pass, r *reporter, sh *shutdowns) {
	ctxs := sh.ctxs
	decls := funcDecls(pass)
	paramIndex := func(fn *types.Func, e ast.Expr) int {
		obj := ctxs.derivedParam(e, 0)
		sig := signature(fn)
		for i := 0; i < sig.Params().Len(); i++ {
			if sig.Params().At(i) == obj {
				return i
			}
		}
		return -1
	}
	propagate(pass, decls, func(d funcDecl) (changed bool) {
		fn := d.fn
		ast.Inspect(d.decl.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			idx, _ := sh.shutdownArgs(call)
			for _, i := range idx {
				if i >= len(call.Args) {
					continue
				}
				if p := paramIndex(fn, call.Args[i]); p >= 0 && !containsInt(sh.ctxParams[fn], p) {
					sh.ctxParams[fn] = append(sh.ctxParams[fn], p)
					changed = true
				}
			}
			return true
		})
		return changed
	})
	for _, d := range decls {
		if idx := sh.ctxParams[d.fn]; len(idx) > 0 {
			pass.ExportObjectFact(d.fn, &shutdownCtx{Index: idx})
		}
	}
	inspectorOf(pass).Preorder([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node) {
		call := n.(*ast.CallExpr)
		idx, via := sh.shutdownArgs(call)
		for _, i := range idx {
			if i >= len(call.Args) {
				continue
			}
			bg, ok := ctxs.noDeadline(call.Args[i])
			if !ok {
				continue
			}
			if via == "" {
				r.reportf(call.Pos(), "Shutdown(%s) has no deadline: one hung request keeps the process alive until the kubelet's SIGKILL; pass sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second), below terminationGracePeriodSeconds", bg)
			} else {
				r.reportf(call.Pos(), "%s passes %s, which has no deadline, on to http.Server.Shutdown: one hung request keeps the process alive until the kubelet's SIGKILL; pass a context from context.WithTimeout(context.Background(), 25*time.Second), below terminationGracePeriodSeconds", via, bg)
			}
		}
	})
}

// shutdowns knows which calls hand a context to a Shutdown: Shutdown itself,
// and the helpers (this package's, or another's through shutdownCtx facts)
// that pass a context parameter on to one.
type shutdowns struct {
	pass      *analysis.Pass
	ctxs      *contexts
	ctxParams map[*types.Func][]int
}

func newShutdowns(pass *analysis.Pass) *shutdowns {
	return &shutdowns{pass: pass, ctxs: newContexts(pass), ctxParams: map[*types.Func][]int{}}
}

// shutdownArgs returns the argument indices of a call that reach a
// Shutdown's context, and the helper it goes through ("" for Shutdown).
func (sh *shutdowns) shutdownArgs(call *ast.CallExpr) ([]int, string) {
	fn := callee(sh.pass.TypesInfo, call)
	switch {
	case fn == nil:
		return nil, ""
	case isServerMethod(fn, "Shutdown"):
		return []int{0}, ""
	case fn.Pkg() == sh.pass.Pkg:
		return sh.ctxParams[fn], funcName(fn)
	case sameProgram(sh.pass, fn.Pkg()):
		var f shutdownCtx
		if sh.pass.ImportObjectFact(fn, &f) {
			return f.Index, funcName(fn)
		}
	}
	return nil, ""
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func anyShut(ns []any, shut map[any]bool) bool {
	for _, n := range ns {
		if shut[n] {
			return true
		}
	}
	return false
}

// serveCall finds a blocking serve call in a statement of main (not in a go
// statement or a function literal): srv.ListenAndServe(), srv.Serve(ln), or
// another package's Serve-like function given the *http.Server.
func serveCall(info *types.Info, stmt ast.Stmt) (*ast.CallExpr, ast.Expr) {
	var call *ast.CallExpr
	var srv ast.Expr
	ast.Inspect(stmt, func(n ast.Node) bool {
		if call != nil {
			return false
		}
		switch n := n.(type) {
		case *ast.GoStmt, *ast.FuncLit, *ast.DeferStmt:
			return false
		case *ast.CallExpr:
			fn := callee(info, n)
			if isServerMethod(fn, "ListenAndServe", "ListenAndServeTLS", "Serve", "ServeTLS") {
				if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok {
					call, srv = n, sel.X
				}
				return false
			}
			if fn != nil && fn.Pkg() != nil && fn.Pkg().Path() != "net/http" && containsServe(fn.Name()) {
				for _, a := range n.Args {
					if isServerType(info.TypeOf(a)) {
						call, srv = n, a
						return false
					}
				}
			}
		}
		return true
	})
	return call, srv
}

func containsServe(name string) bool {
	for i := 0; i+5 <= len(name); i++ {
		if name[i:i+5] == "Serve" {
			return true
		}
	}
	return false
}

// shutsSynchronously reports whether main itself (not a goroutine it
// starts) calls Shutdown, directly or through a helper of this package.
func shutsSynchronously(info *types.Info, body *ast.BlockStmt, fl *flow) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt, *ast.FuncLit:
			return false
		case *ast.CallExpr:
			fn := callee(info, n)
			if isServerMethod(fn, "Shutdown") {
				found = true
			}
			if fn != nil && fn.Pkg() == fl.pass.Pkg {
				sig := signature(fn)
				for i := 0; i < sig.Params().Len(); i++ {
					if isServerType(sig.Params().At(i).Type()) {
						found = true // a helper given the server: assume it may shut it down
					}
				}
			}
		}
		return !found
	})
	return found
}

// waits reports whether statements block on something before main ends: a
// channel receive, a select, or a Wait call (sync.WaitGroup, errgroup).
func waits(info *types.Info, stmts []ast.Stmt) bool {
	found := false
	for _, s := range stmts {
		ast.Inspect(s, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit, *ast.GoStmt:
				return false
			case *ast.UnaryExpr:
				if n.Op.String() == "<-" {
					found = true
				}
			case *ast.SelectStmt:
				found = true
			case *ast.CallExpr:
				if fn := callee(info, n); fn != nil && fn.Name() == "Wait" {
					found = true
				}
			}
			return !found
		})
	}
	return found
}
