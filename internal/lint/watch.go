package lint

import (
	"fmt"
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
)

// WatchCancel flags client-go watches and informers that nothing can stop:
// a Watch on context.Background()/TODO() that the caller itself owns, or an
// informer or factory started with a nil, never-closed or never-firing stop
// channel, directly or through the caller's helpers. They keep API server
// connections open and goroutines running through shutdown.
//
// Not findings: a Watch inside a cache.ListWatch WatchFunc (it returns the
// watch to a reflector, which stops it when its own stop channel closes, and
// has no context to pass), and informers started with a channel or context
// that is closed or cancelled somewhere, or that belongs to the caller.
var WatchCancel = &analysis.Analyzer{
	Name:      "k8swatchcancel",
	Doc:       "report client-go Watch calls and informer Run/Start calls that cannot be cancelled",
	Requires:  []*analysis.Analyzer{inspect.Analyzer},
	Run:       runWatchCancel,
	FactTypes: []analysis.Fact{new(stopParams)},
}

// stopParams is the fact that a function passes some of its parameters (a
// stop channel, or a context whose Done channel is used) on to an informer,
// so the caller's argument decides when the informer stops.
type stopParams struct{ Index []int }

func (*stopParams) AFact()           {}
func (f *stopParams) String() string { return fmt.Sprintf("stopParams%v", f.Index) }

const fixCancel = "pass a cancellable context (ctx from signal.NotifyContext or context.WithCancel, cancelled on SIGTERM)"

// isWatch reports whether fn is a client's Watch: a method Watch(ctx, …)
// returning a watch.Interface (anything with Stop and ResultChan), whoever
// generated the client.
func isWatch(fn *types.Func) bool {
	if fn == nil || fn.Name() != "Watch" || signature(fn).Recv() == nil {
		return false
	}
	sig := signature(fn)
	return sig.Params().Len() > 0 && isContext(sig.Params().At(0).Type()) && sig.Results().Len() > 0 && isWatchInterface(sig.Results().At(0).Type())
}

func isWatchInterface(t types.Type) bool { return hasMethod(t, "Stop") && hasMethod(t, "ResultChan") }

func isContext(t types.Type) bool { return isNamed(t, "context", "Context") }

func isStopChan(t types.Type) bool {
	c, ok := t.Underlying().(*types.Chan)
	return ok && c.Dir() != types.SendOnly
}

// informerStop returns the index of the stop argument when fn starts or
// waits for an informer or informer factory (a Run, Start or
// WaitForCacheSync taking a stop channel on a type that has HasSynced or
// WaitForCacheSync), or -1.
func informerStop(fn *types.Func) int {
	if fn == nil || fn.Pkg() == nil {
		return -1
	}
	sig := signature(fn)
	if sig.Recv() == nil {
		if fn.Pkg().Path() == "k8s.io/client-go/tools/cache" {
			switch fn.Name() {
			case "WaitForCacheSync":
				return 0
			case "WaitForNamedCacheSync":
				return 1
			}
		}
		return -1
	}
	switch fn.Name() {
	case "Run", "Start", "WaitForCacheSync":
	default:
		return -1
	}
	if sig.Params().Len() == 0 || !isStopChan(sig.Params().At(0).Type()) {
		return -1
	}
	if r := recvType(fn); hasMethod(r, "HasSynced") || hasMethod(r, "WaitForCacheSync") {
		return 0
	}
	return -1
}

// isCacheSyncWait reports whether fn waits for caches rather than running
// an informer: cache.WaitForCacheSync, a factory's WaitForCacheSync.
func isCacheSyncWait(fn *types.Func) bool {
	return fn.Name() == "WaitForCacheSync" || fn.Name() == "WaitForNamedCacheSync"
}

func runWatchCancel(pass *analysis.Pass) (any, error) {
	if !inScope(pass) {
		return nil, nil
	}
	info := pass.TypesInfo
	life := newLifetimes(pass)
	stops := stopParamsOf(pass, life)
	stopArgs := func(fn *types.Func) []int {
		if fn == nil {
			return nil
		}
		if i := informerStop(fn); i >= 0 {
			return []int{i}
		}
		if fn.Pkg() == pass.Pkg {
			return stops[fn]
		}
		var f stopParams
		if sameProgram(pass, fn.Pkg()) && pass.ImportObjectFact(fn, &f) {
			return f.Index
		}
		return nil
	}
	life.computeEscapes(pass, stopArgs)
	r := newReporter(pass)
	inspectorOf(pass).WithStack([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push {
			return true
		}
		call := n.(*ast.CallExpr)
		fn := callee(info, call)
		if fn == nil || len(call.Args) == 0 {
			return true
		}
		if isWatch(fn) {
			if bg, ok := isBackground(info, call.Args[0]); ok && !reflectorOwned(stack, info) {
				r.reportf(call.Pos(), "Watch with %s can never be cancelled: the watch and its API server connection outlive shutdown; %s", bg, fixCancel)
			}
			return true
		}
		for _, i := range stopArgs(fn) {
			if i >= len(call.Args) {
				continue
			}
			arg := call.Args[i]
			name := types.ExprString(call.Fun)
			if bg, ok := isBackground(info, arg); ok {
				r.reportf(call.Pos(), "%s with %s can never be cancelled; %s", name, bg, fixCancel)
				continue
			}
			why := life.neverStops(arg)
			switch {
			case why == "":
			case isCacheSyncWait(fn):
				r.reportf(call.Pos(), "%s(… %s …): %s, so this wait can never be abandoned: WaitForCacheSync returns false only when its stop channel closes, so while the caches do not sync (RBAC denies the list, the API server is unreachable) it blocks forever, and the code that handles false (a retry, an error, a timeout) is dead; pass ctx.Done() of a cancellable context (signal.NotifyContext, or context.WithTimeout to bound the wait)", name, types.ExprString(arg), why)
			default:
				r.reportf(call.Pos(), "%s(… %s …): %s, so the informer runs until the process is killed; pass ctx.Done() of a cancellable context (signal.NotifyContext or context.WithCancel, cancelled on SIGTERM)", name, types.ExprString(arg), why)
			}
		}
		return true
	})
	return nil, nil
}

// reflectorOwned reports whether the innermost function around a Watch hands
// the watch back to its caller without having a context of its own: a
// cache.ListWatch WatchFunc, or a helper building one. The reflector that
// calls it stops the watch when its own stop channel closes.
func reflectorOwned(stack []ast.Node, info *types.Info) bool {
	_, sig := enclosingFunc(info, stack)
	if sig == nil || sig.Results().Len() == 0 || !isWatchInterface(sig.Results().At(0).Type()) {
		return false
	}
	for v := range sig.Params().Variables() {
		if isContext(v.Type()) {
			return false
		}
	}
	return true
}

// stopParamsOf finds the package's functions that pass a parameter on as an
// informer's stop channel or context, and exports them as facts.
func stopParamsOf(pass *analysis.Pass, life *lifetimes) map[*types.Func][]int {
	info := pass.TypesInfo
	decls := funcDecls(pass)
	out := map[*types.Func][]int{}
	propagate(pass, decls, func(d funcDecl) (changed bool) {
		fn, fd := d.fn, d.decl
		params := map[types.Object]int{}
		i := 0
		for v := range signature(fn).Params().Variables() {
			params[v] = i
			i++
		}
		have := map[int]bool{}
		for _, j := range out[fn] {
			have[j] = true
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			c := callee(info, call)
			var idx []int
			if j := informerStop(c); j >= 0 {
				idx = []int{j}
			} else if c != nil && c.Pkg() == pass.Pkg {
				idx = out[c]
			} else if c != nil && sameProgram(pass, c.Pkg()) {
				var f stopParams
				if pass.ImportObjectFact(c, &f) {
					idx = f.Index
				}
			}
			for _, j := range idx {
				if j >= len(call.Args) {
					continue
				}
				if p, ok := params[life.root(call.Args[j])]; ok && !have[p] {
					have[p] = true
					out[fn] = append(out[fn], p)
					changed = true
				}
			}
			return true
		})
		return changed
	})
	for fn, idx := range out {
		pass.ExportObjectFact(fn, &stopParams{Index: idx})
	}
	return out
}
