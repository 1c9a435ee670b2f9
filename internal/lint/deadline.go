package lint

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
)

// contexts answers, for one package, whether a context value can carry a
// deadline. A Shutdown drains until its context is done; a context derived
// only by WithCancel, WithValue, WithCancelCause or signal.NotifyContext
// from context.Background() has no deadline however many layers it has, and
// context.WithoutCancel drops whatever deadline its parent had. The picture
// is flow-insensitive: a variable or field has no deadline when every value
// stored in it has none (ctx := context.WithCancel(context.Background()) in a
// Run method, Shutdown(ctx) later in a goroutine).
type contexts struct {
	info *types.Info
	// stores lists what is stored in each context variable or field.
	stores map[types.Object][]store
	// opaque variables may hold anything: their address is taken, they are
	// ranged over, or another package may store in them.
	opaque map[types.Object]bool
	params map[types.Object]bool
}

// store is a value stored in a variable: expr, or the index-th result of the
// call expr when one call assigns several variables.
type store struct {
	expr  ast.Expr
	index int
}

func newContexts(pass *analysis.Pass) *contexts {
	info := pass.TypesInfo
	c := &contexts{info: info, stores: map[types.Object][]store{}, opaque: map[types.Object]bool{}, params: map[types.Object]bool{}}
	assign := func(lhs, rhs []ast.Expr) {
		for i, l := range lhs {
			obj := objectOf(info, l)
			if obj == nil || !isContext(obj.Type()) {
				continue
			}
			switch {
			case len(lhs) == len(rhs):
				c.stores[obj] = append(c.stores[obj], store{expr: rhs[i], index: -1})
			case len(rhs) == 1:
				c.stores[obj] = append(c.stores[obj], store{expr: rhs[0], index: i})
			}
		}
	}
	inspectorOf(pass).Preorder([]ast.Node{(*ast.FuncType)(nil), (*ast.AssignStmt)(nil), (*ast.ValueSpec)(nil), (*ast.CompositeLit)(nil), (*ast.UnaryExpr)(nil), (*ast.RangeStmt)(nil)}, func(n ast.Node) {
		switch n := n.(type) {
		case *ast.FuncType:
			addParams(info, n, c.params)
		case *ast.AssignStmt:
			assign(n.Lhs, n.Rhs)
		case *ast.ValueSpec:
			assign(specNames(n), n.Values)
		case *ast.CompositeLit:
			for _, e := range n.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					if id, ok := kv.Key.(*ast.Ident); ok {
						if f, ok := info.ObjectOf(id).(*types.Var); ok && f.IsField() && isContext(f.Type()) {
							c.stores[f] = append(c.stores[f], store{expr: kv.Value, index: -1})
						}
					}
				}
			}
		case *ast.UnaryExpr:
			if n.Op == token.AND {
				if obj := objectOf(info, n.X); obj != nil {
					c.opaque[obj] = true
				}
			}
		case *ast.RangeStmt:
			for _, e := range []ast.Expr{n.Key, n.Value} {
				if obj := objectOf(info, e); obj != nil {
					c.opaque[obj] = true
				}
			}
		}
	})
	// Another package may store in an exported field or package variable.
	if pass.Pkg.Name() != "main" {
		for obj := range c.stores {
			if v, ok := obj.(*types.Var); ok && v.Exported() && (v.IsField() || v.Parent() == pass.Pkg.Scope()) {
				c.opaque[obj] = true
			}
		}
	}
	return c
}

// derivers pass their parent's deadline through unchanged; the index of the
// parent argument.
var derivers = map[string]map[string]int{
	"context":   {"WithCancel": 0, "WithCancelCause": 0, "WithValue": 0},
	"os/signal": {"NotifyContext": 0},
}

// noDeadline explains why the context e has no deadline ("ctx
// (context.WithCancel(context.Background()))"), or returns false when it may
// have one or cannot be judged.
func (c *contexts) noDeadline(e ast.Expr) (string, bool) {
	why, ok := c.eval(e, -1, map[types.Object]bool{}, 0)
	if !ok {
		return "", false
	}
	if obj := c.variable(e); obj != nil {
		return obj.Name() + " (" + why + ")", true
	}
	return why, true
}

// variable returns the variable or field e names, if it is one.
func (c *contexts) variable(e ast.Expr) types.Object {
	switch ast.Unparen(e).(type) {
	case *ast.Ident, *ast.SelectorExpr:
		if v, ok := objectOf(c.info, e).(*types.Var); ok {
			return v
		}
	}
	return nil
}

// eval judges e (or its index-th result); visiting holds the variables on
// the current path, which a cycle (ctx = context.WithValue(ctx, …)) leaves
// as they are: only what is stored from elsewhere can give them a deadline.
func (c *contexts) eval(e ast.Expr, index int, visiting map[types.Object]bool, depth int) (string, bool) {
	if depth > 32 {
		return "", false
	}
	e = ast.Unparen(e)
	if call, ok := e.(*ast.CallExpr); ok {
		fn := callee(c.info, call)
		if fn == nil || fn.Pkg() == nil || signature(fn).Recv() != nil {
			return "", false
		}
		if index > 0 {
			return "", false // the cancel function, not the context
		}
		if isFunc(fn, "context", "Background", "TODO") {
			return "context." + fn.Name() + "()", true
		}
		if isFunc(fn, "context", "WithoutCancel") {
			arg := "…"
			if len(call.Args) == 1 {
				arg = types.ExprString(call.Args[0])
			}
			return "context.WithoutCancel(" + arg + ") (it drops the parent's deadline)", true
		}
		if i, ok := derivers[fn.Pkg().Path()][fn.Name()]; ok && i < len(call.Args) {
			why, ok := c.eval(call.Args[i], -1, visiting, depth+1)
			if !ok {
				return "", false
			}
			return fn.Pkg().Name() + "." + fn.Name() + "(" + why + ")", true
		}
		return "", false
	}
	obj := c.variable(e)
	if obj == nil || c.params[obj] || c.opaque[obj] || len(c.stores[obj]) == 0 {
		return "", false
	}
	if visiting[obj] {
		return obj.Name(), true
	}
	visiting[obj] = true
	defer delete(visiting, obj)
	why := ""
	for _, s := range c.stores[obj] {
		w, ok := c.eval(s.expr, s.index, visiting, depth+1)
		if !ok {
			return "", false
		}
		if why == "" || why == obj.Name() {
			why = w
		}
	}
	if why == obj.Name() {
		return "", false // only ever derived from itself
	}
	return why, true
}

// derivedParam returns the parameter a context expression is, or is derived
// from without gaining a deadline (context.WithCancel(ctx)), or nil: the
// deadline of a Shutdown's context is then the caller's.
func (c *contexts) derivedParam(e ast.Expr, depth int) types.Object {
	if depth > 32 {
		return nil
	}
	e = ast.Unparen(e)
	if call, ok := e.(*ast.CallExpr); ok {
		fn := callee(c.info, call)
		if fn == nil || fn.Pkg() == nil || signature(fn).Recv() != nil {
			return nil
		}
		if i, ok := derivers[fn.Pkg().Path()][fn.Name()]; ok && i < len(call.Args) {
			return c.derivedParam(call.Args[i], depth+1)
		}
		return nil
	}
	obj := c.variable(e)
	if obj == nil {
		return nil
	}
	if c.params[obj] {
		return obj
	}
	// A local derived from one parameter only: sctx, cancel :=
	// context.WithCancel(ctx).
	var p types.Object
	for _, s := range c.stores[obj] {
		if s.index > 0 {
			return nil
		}
		q := c.derivedParam(s.expr, depth+1)
		if q == nil || p != nil && q != p {
			return nil
		}
		p = q
	}
	return p
}
