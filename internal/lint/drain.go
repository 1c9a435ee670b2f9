package lint

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// entry is a function whose return ends the program: main, a function main
// calls and does not wait after, or the function a CLI framework runs for a
// command and exits after (cobra's Run/RunE, mitchellh/cli's Command.Run,
// urfave/cli's Action).
type entry struct {
	// name says which function it is and why its return ends the program.
	name string
	body *ast.BlockStmt
}

// entries lists the package's entry functions in source order.
func entries(pass *analysis.Pass) []entry {
	info := pass.TypesInfo
	decls := map[*types.Func]*ast.FuncDecl{}
	for _, d := range funcDecls(pass) {
		decls[d.fn] = d.decl
	}
	var out []entry
	seen := map[*ast.BlockStmt]bool{}
	add := func(name string, body *ast.BlockStmt) {
		if body != nil && !seen[body] {
			seen[body] = true
			out = append(out, entry{name: name, body: body})
		}
	}
	// bodyOf returns the body of a function value: a literal, or a function
	// or method of this package.
	bodyOf := func(e ast.Expr) (string, *ast.BlockStmt) {
		switch e := ast.Unparen(e).(type) {
		case *ast.FuncLit:
			return "", e.Body
		case *ast.Ident, *ast.SelectorExpr:
			if fn, ok := objectOf(info, e).(*types.Func); ok {
				if d := decls[fn]; d != nil {
					return funcName(fn), d.Body
				}
			}
		}
		return "", nil
	}
	for _, f := range pass.Files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			if pass.Pkg.Name() == "main" && fd.Name.Name == "main" && fd.Recv == nil {
				add("main", fd.Body)
				// A function main calls, when main ends after it returns.
				for i, stmt := range fd.Body.List {
					if waits(info, fd.Body.List[i+1:]) {
						continue
					}
					topLevelCalls(stmt, func(call *ast.CallExpr) {
						if fn := callee(info, call); fn != nil && fn.Pkg() == pass.Pkg {
							if d := decls[fn]; d != nil && d != fd {
								add(funcName(fn)+", after which main exits,", d.Body)
							}
						}
					})
				}
			}
			if fn, ok := info.Defs[fd.Name].(*types.Func); ok && isCLICommandRun(fn) {
				add(funcName(fn)+" (a mitchellh/cli command: main exits with its status)", fd.Body)
			}
		}
	}
	// Commands of cobra and urfave/cli, as literals or assigned fields.
	field := func(owner types.Type, key string, value ast.Expr) {
		var name string
		switch {
		case isNamed(owner, "github.com/spf13/cobra", "Command") && (key == "Run" || key == "RunE"):
			name = "the " + key + " of a cobra.Command (Execute, then main, return with it)"
		case key == "Action" && isNamedIn(owner, "github.com/urfave/cli"):
			name = "the Action of a urfave/cli command (main exits after it)"
		default:
			return
		}
		fname, body := bodyOf(value)
		if fname != "" {
			name = fname + ", " + name + ","
		}
		add(name, body)
	}
	inspectorOf(pass).Preorder([]ast.Node{(*ast.CompositeLit)(nil), (*ast.AssignStmt)(nil)}, func(n ast.Node) {
		switch n := n.(type) {
		case *ast.CompositeLit:
			t := info.TypeOf(n)
			for _, el := range n.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if id, ok := kv.Key.(*ast.Ident); ok {
						field(t, id.Name, kv.Value)
					}
				}
			}
		case *ast.AssignStmt:
			if len(n.Lhs) != len(n.Rhs) {
				return
			}
			for i, l := range n.Lhs {
				if sel, ok := ast.Unparen(l).(*ast.SelectorExpr); ok {
					field(info.TypeOf(sel.X), sel.Sel.Name, n.Rhs[i])
				}
			}
		}
	})
	return out
}

// isNamedIn reports whether t (or *t) is a named type of a package under
// the path prefix.
func isNamedIn(t types.Type, prefix string) bool {
	if t == nil {
		return false
	}
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok || n.Obj().Pkg() == nil {
		return false
	}
	p := n.Obj().Pkg().Path()
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// isCLICommandRun reports whether fn is the Run method of a mitchellh/cli
// Command: Run(args []string) int on a type that also has Help and
// Synopsis. The CLI runs it and main exits with its status.
func isCLICommandRun(fn *types.Func) bool {
	sig := signature(fn)
	if fn.Name() != "Run" || sig.Recv() == nil || sig.Params().Len() != 1 || sig.Results().Len() != 1 {
		return false
	}
	if s, ok := sig.Params().At(0).Type().(*types.Slice); !ok || !types.Identical(s.Elem(), types.Typ[types.String]) {
		return false
	}
	if !types.Identical(sig.Results().At(0).Type(), types.Typ[types.Int]) {
		return false
	}
	recv := sig.Recv().Type()
	return hasMethod(recv, "Help") && hasMethod(recv, "Synopsis")
}

// topLevelCalls calls f for each call in stmt that runs when stmt does (not
// in a go or defer statement or a function literal).
func topLevelCalls(stmt ast.Stmt, f func(*ast.CallExpr)) {
	ast.Inspect(stmt, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt, *ast.DeferStmt, *ast.FuncLit:
			return false
		case *ast.CallExpr:
			f(n)
		}
		return true
	})
}

// mainDrain reports an entry function (main, or the command function a CLI
// framework exits after) that serves in its own goroutine, has Shutdown
// called in another, and returns when the serve call does.
// ListenAndServe returns http.ErrServerClosed as soon as Shutdown starts,
// not when it has drained, so the entry must wait for Shutdown to return
// before it does. A deferred cancel of the context that Shutdown drains with
// makes it worse: the return cancels the drain itself.
func mainDrain(pass *analysis.Pass, r *reporter, fl *flow, shut map[any]bool, sh *shutdowns, skip map[*ast.CallExpr]bool) {
	info := pass.TypesInfo
	for _, e := range entries(pass) {
		if shutsSynchronously(info, e.body, fl) {
			continue
		}
		for i, stmt := range e.body.List {
			call, srv := serveCall(info, stmt)
			if call == nil || skip[call] || !anyShut(fl.nodes(srv), shut) || waits(info, e.body.List[i+1:]) {
				continue
			}
			who, exits := e.name, "main exits"
			if who != "main" {
				exits = "the program exits"
			}
			note := ""
			if c := cancelledDrain(info, e.body, sh); c != "" {
				note = "; and " + c
			}
			r.reportf(call.Pos(), "%s returns as soon as %s returns, and it returns http.ErrServerClosed when Shutdown starts, not when it has drained: %s and cuts the in-flight requests Shutdown is waiting for%s; wait for Shutdown to return before %s (have the goroutine that calls Shutdown close a done channel, and receive from it here)", who, types.ExprString(call.Fun), exits, note, exits)
		}
	}
}

// cancelledDrain explains a deferred cancel in an entry function that
// cancels the context a goroutine of the same function shuts a server down
// with, or returns "".
func cancelledDrain(info *types.Info, body *ast.BlockStmt, sh *shutdowns) string {
	// ctx, cancel := context.With…(…): the cancel of each context.
	cancelOf := map[types.Object]types.Object{}
	ast.Inspect(body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 2 || len(as.Rhs) != 1 {
			return true
		}
		if call, ok := ast.Unparen(as.Rhs[0]).(*ast.CallExpr); ok {
			if fn := callee(info, call); fn != nil && fn.Pkg() != nil && fn.Pkg().Path() == "context" && strings.HasPrefix(fn.Name(), "With") {
				if ctx, cancel := objectOf(info, as.Lhs[0]), objectOf(info, as.Lhs[1]); ctx != nil && cancel != nil {
					cancelOf[ctx] = cancel
				}
			}
		}
		return true
	})
	// Cancels deferred by the function itself.
	deferred := map[types.Object]bool{}
	for _, stmt := range body.List {
		d, ok := stmt.(*ast.DeferStmt)
		if !ok {
			continue
		}
		ast.Inspect(d.Call, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && len(call.Args) == 0 {
				if obj := objectOf(info, call.Fun); obj != nil {
					deferred[obj] = true
				}
			}
			return true
		})
	}
	// A Shutdown in a goroutine or closure of the function, given one of
	// those contexts.
	why := ""
	ast.Inspect(body, func(n ast.Node) bool {
		if why != "" {
			return false
		}
		var inner ast.Node
		switch n := n.(type) {
		case *ast.GoStmt:
			inner = n.Call
		case *ast.FuncLit:
			inner = n.Body
		default:
			return true
		}
		ast.Inspect(inner, func(m ast.Node) bool {
			call, ok := m.(*ast.CallExpr)
			if !ok || why != "" {
				return why == ""
			}
			idx, _ := sh.shutdownArgs(call)
			for _, i := range idx {
				if i >= len(call.Args) {
					continue
				}
				ctx := objectOf(info, call.Args[i])
				if cancel := cancelOf[ctx]; cancel != nil && deferred[cancel] {
					why = fmt.Sprintf("its deferred %s() then cancels %s, the context Shutdown drains with (%s)", cancel.Name(), ctx.Name(), types.ExprString(call.Fun))
				}
			}
			return true
		})
		return false
	})
	return why
}

// exitOnClosed reports serve calls whose error handling exits the process on
// any error, http.ErrServerClosed included, for a server that is shut down:
// Shutdown makes the serve call return ErrServerClosed at once, and the exit
// cuts the drain before it began. It returns the calls it reported.
func exitOnClosed(pass *analysis.Pass, r *reporter, fl *flow, shut map[any]bool) map[*ast.CallExpr]bool {
	info := pass.TypesInfo
	reported := map[*ast.CallExpr]bool{}
	inspectorOf(pass).WithStack([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push {
			return true
		}
		call := n.(*ast.CallExpr)
		if !isServerMethod(callee(info, call), "ListenAndServe", "ListenAndServeTLS", "Serve", "ServeTLS") {
			return true
		}
		sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
		if !ok || !anyShut(fl.nodes(sel.X), shut) {
			return true
		}
		how := exitOnError(info, call, stack)
		if how == "" {
			return true
		}
		reported[call] = true
		r.reportf(call.Pos(), "when Shutdown starts, %s returns http.ErrServerClosed at once, and this code exits the process on it (%s): the drain is cut before it began; treat http.ErrServerClosed as the normal end (if err := %s; !errors.Is(err, http.ErrServerClosed) { … }) and let the process exit only after Shutdown has returned", types.ExprString(call.Fun), how, types.ExprString(call))
		return true
	})
	return reported
}

// exitOnError returns the exit call that handles a serve call's error
// without telling http.ErrServerClosed apart: log.Fatal(srv.ListenAndServe()),
// or err := srv.ListenAndServe() then if err != nil { …; os.Exit(1) }.
func exitOnError(info *types.Info, call *ast.CallExpr, stack []ast.Node) string {
	if len(stack) < 2 {
		return ""
	}
	switch p := stack[len(stack)-2].(type) {
	case *ast.CallExpr:
		return exits(info, &ast.ExprStmt{X: p})
	case *ast.AssignStmt:
		if len(p.Lhs) != 1 || len(p.Rhs) != 1 {
			return ""
		}
		errVar := objectOf(info, p.Lhs[0])
		if errVar == nil || len(stack) < 3 {
			return ""
		}
		var ifs *ast.IfStmt
		switch g := stack[len(stack)-3].(type) {
		case *ast.IfStmt:
			if g.Init == p {
				ifs = g
			}
		case *ast.BlockStmt:
			for i, s := range g.List {
				if s == p && i+1 < len(g.List) {
					ifs, _ = g.List[i+1].(*ast.IfStmt)
				}
			}
		}
		if ifs == nil || !isNotNil(info, ifs.Cond, errVar) {
			return ""
		}
		for _, s := range ifs.Body.List {
			if how := exits(info, s); how != "" {
				return how
			}
		}
	}
	return ""
}

// isNotNil reports whether cond is exactly err != nil (so it does not tell
// http.ErrServerClosed apart).
func isNotNil(info *types.Info, cond ast.Expr, err types.Object) bool {
	b, ok := ast.Unparen(cond).(*ast.BinaryExpr)
	if !ok || b.Op != token.NEQ {
		return false
	}
	x, y := b.X, b.Y
	if tv, ok := info.Types[x]; ok && tv.IsNil() {
		x, y = y, x
	}
	tv, ok := info.Types[y]
	return ok && tv.IsNil() && objectOf(info, x) == err
}
