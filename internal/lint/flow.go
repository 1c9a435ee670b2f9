package lint

import (
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// flow is a flow-insensitive picture of where http.Server values go in one
// package: which variables, fields, parameters and results may hold a value
// created at an origin. It answers a reviewer's question "is this server
// shut down somewhere?" when the server is returned, stored in a field,
// passed to a helper or captured by a closure, rather than used in place.
type flow struct {
	pass *analysis.Pass
	// into[dst] lists the nodes whose value may be stored in dst. A node is
	// a types.Object, a result, or an origin expression (a literal, a
	// new(http.Server), a call of another package's function returning one).
	into map[any][]any
	// unknown are nodes handed to code the analyzer cannot see, which may
	// shut them down: another module's function, a channel, a field of
	// another package's struct, a closure's result.
	unknown map[any]bool
	origins []origin
	// facts of other packages' functions.
	returnsServer func(*types.Func) (string, bool)
	shutsParams   func(*types.Func) []int
}

// origin is where a server value comes from.
type origin struct {
	expr ast.Expr
	// from names the other package's function that returned it ("" for a
	// server created here) and created where it was created.
	from, created string
}

// result is a function's i-th result.
type result struct {
	fn *types.Func
	i  int
}

func isServerType(t types.Type) bool { return isNamed(t, "net/http", "Server") }

func newFlow(pass *analysis.Pass, returnsServer func(*types.Func) (string, bool), shutsParams func(*types.Func) []int) *flow {
	f := &flow{pass: pass, into: map[any][]any{}, unknown: map[any]bool{}, returnsServer: returnsServer, shutsParams: shutsParams}
	for _, file := range pass.Files {
		f.walk(file, nil)
	}
	return f
}

// nodes returns the nodes an expression's value may come from.
func (f *flow) nodes(e ast.Expr) []any {
	info := f.pass.TypesInfo
	switch e := ast.Unparen(e).(type) {
	case *ast.UnaryExpr:
		return f.nodes(e.X)
	case *ast.StarExpr:
		return f.nodes(e.X)
	case *ast.IndexExpr:
		return f.nodes(e.X)
	case *ast.Ident, *ast.SelectorExpr:
		if v, ok := objectOf(info, e).(*types.Var); ok {
			return []any{v}
		}
	case *ast.CompositeLit:
		if isServerType(info.TypeOf(e)) {
			return []any{e}
		}
	case *ast.CallExpr:
		if id, ok := ast.Unparen(e.Fun).(*ast.Ident); ok && id.Name == "new" && isServerType(info.TypeOf(e)) {
			return []any{e}
		}
		fn := callee(info, e)
		if fn == nil {
			return nil
		}
		if fn.Pkg() == f.pass.Pkg {
			return []any{result{fn, 0}}
		}
		if _, ok := f.returnsServer(fn); ok {
			return []any{e}
		}
	}
	return nil
}

func (f *flow) add(dst any, srcs []any) {
	if dst != nil && len(srcs) > 0 {
		f.into[dst] = append(f.into[dst], srcs...)
	}
}

func (f *flow) lhs(e ast.Expr) any {
	if id, ok := e.(*ast.Ident); ok && id.Name == "_" {
		return nil
	}
	if v, ok := objectOf(f.pass.TypesInfo, e).(*types.Var); ok {
		return v
	}
	return nil
}

// walk records the flows of a subtree; fn is the declared function whose
// body it is (nil inside function literals, whose results we do not track).
func (f *flow) walk(root ast.Node, fn *types.Func) {
	info := f.pass.TypesInfo
	ast.Inspect(root, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Body != nil && n != root {
				dfn, _ := info.Defs[n.Name].(*types.Func)
				f.walk(n, dfn)
				return false
			}
		case *ast.FuncLit:
			if n != root {
				f.walk(n.Body, nil)
				return false
			}
		case *ast.CompositeLit:
			if isServerType(info.TypeOf(n)) {
				f.origins = append(f.origins, origin{expr: n})
			}
			f.compositeFields(n)
		case *ast.AssignStmt:
			f.assign(n.Lhs, n.Rhs)
		case *ast.ValueSpec:
			f.assign(specNames(n), n.Values)
		case *ast.RangeStmt:
			if n.Value != nil {
				f.add(f.lhs(n.Value), f.nodes(n.X))
			}
		case *ast.ReturnStmt:
			for i, r := range n.Results {
				if fn == nil {
					f.markUnknown(f.nodes(r))
				} else {
					f.add(result{fn, i}, f.nodes(r))
				}
			}
		case *ast.SendStmt:
			f.markUnknown(f.nodes(n.Value))
		case *ast.CallExpr:
			f.call(n)
		}
		return true
	})
}

func (f *flow) assign(lhs, rhs []ast.Expr) {
	if len(rhs) == 1 && len(lhs) > 1 {
		if call, ok := ast.Unparen(rhs[0]).(*ast.CallExpr); ok {
			if fn := callee(f.pass.TypesInfo, call); fn != nil && fn.Pkg() == f.pass.Pkg {
				for i, l := range lhs {
					f.add(f.lhs(l), []any{result{fn, i}})
				}
			} else if fn != nil {
				if _, ok := f.returnsServer(fn); ok {
					f.add(f.lhs(lhs[0]), []any{call})
				}
			}
		}
		return
	}
	for i, r := range rhs {
		if i < len(lhs) {
			f.add(f.lhs(lhs[i]), f.nodes(r))
		}
	}
}

// compositeFields records T{srv: x}: x flows into the field, or to unknown
// code when T belongs to another module (a controller-runtime manager
// runnable, for example, is shut down by the manager).
func (f *flow) compositeFields(lit *ast.CompositeLit) {
	info := f.pass.TypesInfo
	t := info.TypeOf(lit)
	if t == nil {
		return
	}
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		for _, e := range lit.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				e = kv.Value
			}
			f.markUnknownUnlessLocal(t, f.nodes(e))
		}
		return
	}
	foreign := false
	if n, ok := types.Unalias(t).(*types.Named); ok {
		foreign = !sameProgram(f.pass, n.Obj().Pkg())
	}
	for i, e := range lit.Elts {
		var field *types.Var
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok {
				field, _ = info.ObjectOf(id).(*types.Var)
			}
			e = kv.Value
		} else if i < st.NumFields() {
			field = st.Field(i)
		}
		srcs := f.nodes(e)
		if foreign || field == nil {
			f.markUnknown(srcs)
			continue
		}
		f.add(field, srcs)
	}
}

// markUnknownUnlessLocal: elements of a slice or map literal flow into the
// literal's holder, which nodes() cannot name; treat them as unknown.
func (f *flow) markUnknownUnlessLocal(_ types.Type, srcs []any) { f.markUnknown(srcs) }

func (f *flow) markUnknown(srcs []any) {
	for _, s := range srcs {
		f.unknown[s] = true
	}
}

// call records arguments flowing into parameters. A server handed to another
// module's function may be shut down there, unless the function only
// serves it (its name says Serve: a server's Serve never shuts it down).
func (f *flow) call(call *ast.CallExpr) {
	info := f.pass.TypesInfo
	if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok {
		if b, ok := info.Uses[id].(*types.Builtin); ok {
			if b.Name() == "append" && len(call.Args) > 1 {
				for _, a := range call.Args[1:] {
					f.markUnknown(f.nodes(a))
				}
			}
			return
		}
	}
	fn := callee(info, call)
	if fn != nil && fn.Pkg() == nil {
		return // error.Error
	}
	if fn == nil {
		// A call of a function value: what it does is unknown.
		for _, a := range call.Args {
			f.markUnknown(f.nodes(a))
		}
		return
	}
	sig := signature(fn)
	if fn.Pkg() == f.pass.Pkg {
		if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && sig.Recv() != nil {
			f.add(sig.Recv(), f.nodes(sel.X))
		}
		for i, a := range call.Args {
			if i < sig.Params().Len() {
				f.add(sig.Params().At(i), f.nodes(a))
			}
		}
		return
	}
	if isServerMethod(fn, "Shutdown", "Close", "ListenAndServe", "ListenAndServeTLS", "Serve", "ServeTLS", "RegisterOnShutdown", "SetKeepAlivesEnabled") {
		return
	}
	if sameProgram(f.pass, fn.Pkg()) {
		return // its facts say which parameters it shuts down
	}
	if strings.Contains(fn.Name(), "Serve") || fn.Pkg().Path() == "fmt" || strings.HasSuffix(fn.Pkg().Path(), "log") || strings.Contains(fn.Pkg().Path(), "log/") {
		return
	}
	for _, a := range call.Args {
		f.markUnknown(f.nodes(a))
	}
}

// shut returns every node whose value is shut down somewhere: the receivers
// of Shutdown and Close, and what flows into them.
func (f *flow) shut() map[any]bool {
	info := f.pass.TypesInfo
	s := map[any]bool{}
	var work []any
	mark := func(ns []any) {
		for _, n := range ns {
			if !s[n] {
				s[n] = true
				work = append(work, n)
			}
		}
	}
	for _, file := range f.pass.Files {
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fn := callee(info, call)
			if isServerMethod(fn, "Shutdown", "Close") {
				if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok {
					mark(f.nodes(sel.X))
				}
			}
			if fn != nil && fn.Pkg() != f.pass.Pkg {
				for _, i := range f.shutsParams(fn) {
					if i < len(call.Args) {
						mark(f.nodes(call.Args[i]))
					}
				}
			}
			return true
		})
	}
	for len(work) > 0 {
		n := work[len(work)-1]
		work = work[:len(work)-1]
		mark(f.into[n])
	}
	return s
}

// reach returns every node the value of src may flow to.
func (f *flow) reach(src any) map[any]bool {
	out := map[any][]any{}
	for dst, srcs := range f.into {
		for _, s := range srcs {
			out[s] = append(out[s], dst)
		}
	}
	seen := map[any]bool{src: true}
	work := []any{src}
	for len(work) > 0 {
		n := work[len(work)-1]
		work = work[:len(work)-1]
		for _, d := range out[n] {
			if !seen[d] {
				seen[d] = true
				work = append(work, d)
			}
		}
	}
	return seen
}

// escapes reports whether a value that reaches the given nodes may be shut
// down by code this package cannot see, and how.
func (f *flow) escapes(reached map[any]bool) (string, bool) {
	for n := range reached {
		if f.unknown[n] {
			return "handed to other code", true
		}
		switch n := n.(type) {
		case result:
			// Another package may call it and shut the server down; a
			// main package has no importers.
			if f.pass.Pkg.Name() != "main" && (n.fn.Exported() || isMethodOfExported(n.fn)) {
				return "returned by " + funcName(n.fn), true
			}
		case *types.Var:
			if f.pass.Pkg.Name() != "main" && n.Exported() && (n.IsField() || n.Parent() == f.pass.Pkg.Scope()) {
				return "stored in " + n.Name(), true
			}
		}
	}
	return "", false
}

func isMethodOfExported(fn *types.Func) bool {
	r := recvType(fn)
	if r == nil || !fn.Exported() {
		return false
	}
	if p, ok := r.(*types.Pointer); ok {
		r = p.Elem()
	}
	n, ok := types.Unalias(r).(*types.Named)
	return ok && n.Obj().Exported()
}

// where renders a position as file:line, the base name only, so the vet
// tool and the checker (which see different absolute paths) agree.
func where(fset *token.FileSet, pos token.Pos) string {
	p := fset.Position(pos)
	return filepath.Base(p.Filename) + ":" + strconv.Itoa(p.Line)
}
