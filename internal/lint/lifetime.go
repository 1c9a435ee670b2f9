package lint

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// lifetimes answers, for a package, whether a stop channel or a context can
// ever fire: who closes or cancels it, whether it escapes to code that might,
// and whether the only close is deferred in a function that never returns.
type lifetimes struct {
	info *types.Info
	// origin of each local channel or context variable: "make", "background",
	// "cancel" (context.WithCancel), or "other" (anything we cannot judge).
	origin map[types.Object]string
	// cancelOf maps a context from context.WithCancel to its cancel func.
	cancelOf map[types.Object]types.Object
	// fired: closed or called where that can run.
	fired map[types.Object]bool
	// deadDefer: closed or called only in a defer of a function that never
	// returns; the value explains it.
	deadDefer map[types.Object]string
	// escapes: handed to other code (an argument, a field, another
	// variable), which may close or cancel it.
	escapes map[types.Object]bool
	params  map[types.Object]bool
}

func newLifetimes(pass *analysis.Pass) *lifetimes {
	l := &lifetimes{info: pass.TypesInfo, origin: map[types.Object]string{}, cancelOf: map[types.Object]types.Object{},
		fired: map[types.Object]bool{}, deadDefer: map[types.Object]string{}, escapes: map[types.Object]bool{}, params: map[types.Object]bool{}}
	info := pass.TypesInfo
	ins := inspectorOf(pass)
	ins.Preorder([]ast.Node{(*ast.FuncType)(nil), (*ast.AssignStmt)(nil), (*ast.ValueSpec)(nil)}, func(n ast.Node) {
		switch n := n.(type) {
		case *ast.FuncType:
			addParams(info, n, l.params)
		case *ast.AssignStmt:
			l.define(n.Lhs, n.Rhs)
		case *ast.ValueSpec:
			lhs := specNames(n)
			if len(n.Values) == 0 {
				for _, id := range n.Names {
					if obj := info.Defs[id]; obj != nil && l.origin[obj] == "" {
						l.origin[obj] = "nil"
					}
				}
			}
			l.define(lhs, n.Values)
		}
	})
	// Who fires what, and where.
	ins.WithStack([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push {
			return true
		}
		call := n.(*ast.CallExpr)
		var target types.Object
		if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok {
			if b, ok := info.Uses[id].(*types.Builtin); ok && b.Name() == "close" && len(call.Args) == 1 {
				target = objectOf(info, call.Args[0])
			} else if v, ok := info.Uses[id].(*types.Var); ok {
				if _, isFunc := v.Type().Underlying().(*types.Signature); isFunc {
					target = v // cancel()
				}
			}
		}
		if target == nil {
			return true
		}
		if why := deferredInNeverReturning(info, stack); why != "" {
			if !l.fired[target] {
				l.deadDefer[target] = why
			}
			return true
		}
		l.fired[target] = true
		delete(l.deadDefer, target)
		return true
	})
	return l
}

// computeEscapes records the tracked variables handed to other code: any
// use other than closing, calling or receiving from it, ctx.Done(), or
// passing it as a stop argument (stopArgs gives a callee's stop indices).
// A store into a field counts only when some code can close the channel
// through that field: a stop channel parked in a field that nothing reads
// (c.stopCh = stopCh) is as never-closed as before.
func (l *lifetimes) computeEscapes(pass *analysis.Pass, stopArgs func(*types.Func) []int) {
	info := l.info
	reads := l.fieldReleases(pass, stopArgs)
	releases := func(f *types.Var) bool { return reads[f] || f.Exported() && pass.Pkg.Name() != "main" }
	inspectorOf(pass).WithStack([]ast.Node{(*ast.Ident)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push || len(stack) < 2 {
			return true
		}
		id := n.(*ast.Ident)
		obj := info.Uses[id]
		if obj == nil || l.origin[obj] == "" {
			return true
		}
		switch p := stack[len(stack)-2].(type) {
		case *ast.CallExpr:
			if p.Fun == id {
				return true // cancel()
			}
			if fid, ok := ast.Unparen(p.Fun).(*ast.Ident); ok {
				if _, ok := info.Uses[fid].(*types.Builtin); ok {
					return true // close(x), len(x)
				}
			}
			for _, i := range stopArgs(callee(info, p)) {
				if i < len(p.Args) && l.root(p.Args[i]) == obj {
					return true
				}
			}
		case *ast.SelectorExpr:
			if p.Sel == id {
				// s.stop: a field, whose own stores and reads decide.
				if v, ok := obj.(*types.Var); ok && v.IsField() && v.Exported() && pass.Pkg.Name() != "main" {
					l.escapes[obj] = true // another package may close it
				}
				return true
			}
			return true // ctx.Done(), ctx.Err()
		case *ast.UnaryExpr:
			return true // <-stop
		case *ast.KeyValueExpr:
			if p.Key == id {
				return true // the field named in T{stop: …}
			}
			// T{stop: stop}: an escape only if the field is closed, or
			// handed on, somewhere.
			if p.Value == id {
				if f := fieldOf(info, p.Key); f != nil && !releases(f) {
					return true
				}
			}
		case *ast.AssignStmt:
			for i, lhs := range p.Lhs {
				if lhs == id {
					return true
				}
				// c.stop = stop, likewise.
				if len(p.Lhs) == len(p.Rhs) && p.Rhs[i] == id {
					if f := fieldOf(info, lhs); f != nil && !releases(f) {
						return true
					}
				}
			}
		}
		l.escapes[obj] = true
		return true
	})
}

// fieldOf returns the struct field an expression (a key of a struct
// literal, or s.f) names, or nil.
func fieldOf(info *types.Info, e ast.Expr) *types.Var {
	var obj types.Object
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		obj = info.ObjectOf(e)
	case *ast.SelectorExpr:
		obj = info.ObjectOf(e.Sel)
	}
	if v, ok := obj.(*types.Var); ok && v.IsField() {
		return v
	}
	return nil
}

// fieldReleases returns the channel and context fields through which some
// code may close or cancel what is stored in them: a field another package
// may read (exported, outside package main), or one read here other than to
// receive from it, call Done on it or pass it as a stop argument.
func (l *lifetimes) fieldReleases(pass *analysis.Pass, stopArgs func(*types.Func) []int) map[*types.Var]bool {
	info := l.info
	out := map[*types.Var]bool{}
	inspectorOf(pass).WithStack([]ast.Node{(*ast.SelectorExpr)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push || len(stack) < 2 {
			return true
		}
		sel := n.(*ast.SelectorExpr)
		f, ok := info.Uses[sel.Sel].(*types.Var)
		if !ok || !f.IsField() || out[f] || !(isStopChan(f.Type()) || isContext(f.Type())) {
			return true
		}
		if f.Exported() && pass.Pkg.Name() != "main" {
			out[f] = true
			return true
		}
		switch p := stack[len(stack)-2].(type) {
		case *ast.AssignStmt:
			for _, lhs := range p.Lhs {
				if lhs == sel {
					return true // a store
				}
			}
		case *ast.UnaryExpr:
			if p.Op == token.ARROW {
				return true // <-s.stop
			}
		case *ast.SelectorExpr:
			return true // s.ctx.Done()
		case *ast.CallExpr:
			if fid, ok := ast.Unparen(p.Fun).(*ast.Ident); ok {
				if b, ok := info.Uses[fid].(*types.Builtin); ok && b.Name() != "close" {
					return true // len(s.stop)
				}
			}
			for _, i := range stopArgs(callee(info, p)) {
				if i < len(p.Args) && ast.Unparen(p.Args[i]) == sel {
					return true
				}
			}
		}
		out[f] = true
		return true
	})
	return out
}

// addParams records the named parameters of a function type.
func addParams(info *types.Info, ft *ast.FuncType, into map[types.Object]bool) {
	for _, f := range ft.Params.List {
		for _, name := range f.Names {
			if obj := info.Defs[name]; obj != nil {
				into[obj] = true
			}
		}
	}
}

// define records where channel and context variables come from.
func (l *lifetimes) define(lhs, rhs []ast.Expr) {
	obj := func(i int) types.Object {
		if i >= len(lhs) {
			return nil
		}
		if id, ok := lhs[i].(*ast.Ident); ok && id.Name != "_" {
			return l.info.ObjectOf(id)
		}
		return objectOf(l.info, lhs[i])
	}
	set := func(o types.Object, origin string) {
		if o == nil {
			return
		}
		if prev := l.origin[o]; prev != "" && prev != "nil" && prev != origin {
			origin = "other"
		}
		l.origin[o] = origin
	}
	if len(rhs) == 1 && len(lhs) > 1 {
		// ctx, cancel := context.WithCancel(parent): fires when cancel is
		// called. Any other multi-value assignment (WithTimeout, a
		// constructor) gives values we do not judge.
		if call, ok := ast.Unparen(rhs[0]).(*ast.CallExpr); ok && len(lhs) == 2 && isFunc(callee(l.info, call), "context", "WithCancel", "WithCancelCause") {
			set(obj(0), "cancel")
			set(obj(1), "cancelfunc")
			if a, b := obj(0), obj(1); a != nil && b != nil {
				l.cancelOf[a] = b
			}
			return
		}
		for i := range lhs {
			if o := obj(i); o != nil && (isStopChan(o.Type()) || isContext(o.Type())) {
				set(o, "other")
			}
		}
		return
	}
	for i, r := range rhs {
		o := obj(i)
		if o == nil || len(rhs) != len(lhs) {
			continue
		}
		t := o.Type()
		if !isStopChan(t) && !isContext(t) {
			continue
		}
		switch {
		case isMake(l.info, r):
			set(o, "make")
		case isBackgroundExpr(l.info, r):
			set(o, "background")
		default:
			set(o, "other")
		}
	}
}

func isMake(info *types.Info, e ast.Expr) bool {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		return false
	}
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok {
		return false
	}
	b, ok := info.Uses[id].(*types.Builtin)
	return ok && b.Name() == "make"
}

func isBackgroundExpr(info *types.Info, e ast.Expr) bool {
	_, ok := isBackground(info, e)
	return ok
}

// root returns the variable behind a stop argument: stop, s.stop, ctx in
// ctx.Done().
func (l *lifetimes) root(e ast.Expr) types.Object {
	e = ast.Unparen(e)
	if call, ok := e.(*ast.CallExpr); ok && len(call.Args) == 0 {
		if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Done" && isContext(l.info.TypeOf(sel.X)) {
			return objectOf(l.info, sel.X)
		}
	}
	return objectOf(l.info, e)
}

// neverStops explains why a stop argument (a channel, ctx.Done(), or a
// context) can never fire, or returns "".
func (l *lifetimes) neverStops(e ast.Expr) string {
	info := l.info
	e = ast.Unparen(e)
	if tv, ok := info.Types[e]; ok && tv.IsNil() {
		return "the stop channel is nil"
	}
	if isMake(info, e) {
		return "the stop channel is made in place and never closed"
	}
	if sel, ok := e.(*ast.SelectorExpr); ok {
		if obj := info.Uses[sel.Sel]; obj != nil && obj.Name() == "NeverStop" && obj.Pkg() != nil && obj.Pkg().Path() == "k8s.io/apimachinery/pkg/util/wait" {
			return "the stop channel is wait.NeverStop"
		}
	}
	if call, ok := e.(*ast.CallExpr); ok {
		if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Done" {
			if bg, ok := isBackground(info, sel.X); ok {
				return "the stop channel is " + bg + ".Done(), which never closes"
			}
		}
	}
	obj := l.root(e)
	if obj == nil || l.params[obj] || l.escapes[obj] {
		return ""
	}
	name := obj.Name()
	switch l.origin[obj] {
	case "make":
		if l.fired[obj] {
			return ""
		}
		if why := l.deadDefer[obj]; why != "" {
			return fmt.Sprintf("%s is closed only by a deferred close in %s", name, why)
		}
		return fmt.Sprintf("%s is never closed", name)
	case "nil":
		if !l.fired[obj] {
			return fmt.Sprintf("%s is a nil channel", name)
		}
	case "background":
		return fmt.Sprintf("%s is context.Background(), whose Done channel never closes", name)
	case "cancel":
		cancel := l.cancelOf[obj]
		if cancel == nil || l.fired[cancel] || l.escapes[cancel] {
			return ""
		}
		if why := l.deadDefer[cancel]; why != "" {
			return fmt.Sprintf("%s is cancelled only by a deferred %s() in %s", name, cancel.Name(), why)
		}
		return fmt.Sprintf("%s's cancel function %s is never called", name, cancel.Name())
	}
	return ""
}

// deferredInNeverReturning returns "F, which never returns (it ends in X)"
// when the call on top of stack is deferred in a function F that cannot
// return, so the deferred call never runs; otherwise "".
func deferredInNeverReturning(info *types.Info, stack []ast.Node) string {
	if len(stack) < 2 {
		return ""
	}
	if _, ok := stack[len(stack)-2].(*ast.DeferStmt); !ok {
		return ""
	}
	for i := len(stack) - 3; i >= 0; i-- {
		switch f := stack[i].(type) {
		case *ast.FuncLit:
			if end := neverReturns(info, f.Body); end != "" {
				return "a function literal, which never returns (it ends in " + end + ")"
			}
			return ""
		case *ast.FuncDecl:
			if end := neverReturns(info, f.Body); end != "" {
				return f.Name.Name + ", which never returns (it ends in " + end + ")"
			}
			return ""
		}
	}
	return ""
}

// neverReturns returns how a function body ends when it cannot return
// normally: no return statement, and a last statement that exits the
// process or blocks forever (log.Fatal, os.Exit, panic, select {}, for {}).
func neverReturns(info *types.Info, body *ast.BlockStmt) string {
	if body == nil || len(body.List) == 0 {
		return ""
	}
	hasReturn := false
	ast.Inspect(body, func(n ast.Node) bool {
		switch n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			hasReturn = true
		}
		return !hasReturn
	})
	if hasReturn {
		return ""
	}
	return exits(info, body.List[len(body.List)-1])
}

// exits describes a statement that never completes: a call that ends the
// process, or an empty select or condition-less for without break.
func exits(info *types.Info, s ast.Stmt) string {
	switch s := s.(type) {
	case *ast.ExprStmt:
		call, ok := ast.Unparen(s.X).(*ast.CallExpr)
		if !ok {
			return ""
		}
		if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok {
			if b, ok := info.Uses[id].(*types.Builtin); ok && b.Name() == "panic" {
				return "panic"
			}
		}
		fn := callee(info, call)
		if fn == nil || fn.Pkg() == nil {
			return ""
		}
		name := fn.Pkg().Name() + "." + fn.Name()
		if isFunc(fn, "os", "Exit") || strings.HasPrefix(fn.Name(), "Fatal") || (fn.Name() == "Exit" || strings.HasPrefix(fn.Name(), "Exitf")) && fn.Pkg().Path() == "k8s.io/klog/v2" {
			return name
		}
	case *ast.SelectStmt:
		if len(s.Body.List) == 0 {
			return "select {}"
		}
	case *ast.ForStmt:
		if s.Cond == nil {
			brk := false
			ast.Inspect(s.Body, func(n ast.Node) bool {
				if b, ok := n.(*ast.BranchStmt); ok && b.Label == nil && b.Tok.String() == "break" {
					brk = true
				}
				_, lit := n.(*ast.FuncLit)
				return !brk && !lit
			})
			if !brk {
				return "for {}"
			}
		}
	}
	return ""
}
