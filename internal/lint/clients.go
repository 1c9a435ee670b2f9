package lint

import (
	"go/ast"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
)

// ClientPerRequest flags Kubernetes clients built inside an HTTP handler or a
// loop, directly or through calls (a helper that builds a clientset, called
// for every queue item). Each build makes a new transport: TLS handshakes, a
// connection pool and a client-side rate limiter per request, which exhausts
// the API server's connections and defeats its throttling.
var ClientPerRequest = &analysis.Analyzer{
	Name:      "k8sclientperrequest",
	Doc:       "report Kubernetes clientsets, dynamic and REST clients built per request (in an HTTP handler or a loop, directly or through calls) instead of once at start-up",
	Requires:  []*analysis.Analyzer{inspect.Analyzer},
	Run:       runClientPerRequest,
	FactTypes: []analysis.Fact{new(buildsClient)},
}

// buildsClient is the fact that calling a function builds a Kubernetes
// client; Via is the call chain down to the constructor.
type buildsClient struct{ Via string }

func (*buildsClient) AFact()           {}
func (f *buildsClient) String() string { return "buildsClient(" + f.Via + ")" }

// restFor are k8s.io/client-go/rest's constructors of clients and transports.
var restFor = map[string]bool{"RESTClientFor": true, "UnversionedRESTClientFor": true, "HTTPClientFor": true, "RESTClientForConfigAndClient": true, "TransportFor": true}

// isClientConstructor reports whether fn builds a client from a rest.Config,
// recognised by what it is rather than where it lives: every generated
// clientset (client-go's own, a CRD's, OpenShift's, Argo's) has
// NewForConfig(*rest.Config), and controller-runtime's client.New and
// discovery's constructors take the same first argument.
func isClientConstructor(fn *types.Func) bool {
	if fn == nil || fn.Pkg() == nil || signature(fn).Recv() != nil {
		return false
	}
	if fn.Pkg().Path() == clientGoRest {
		return restFor[fn.Name()]
	}
	params := signature(fn).Params()
	return strings.HasPrefix(fn.Name(), "New") && params.Len() > 0 && isRESTConfig(params.At(0).Type())
}

const clientGoRest = "k8s.io/client-go/rest"

func isRESTConfig(t types.Type) bool {
	p, ok := t.(*types.Pointer)
	return ok && isNamed(p.Elem(), clientGoRest, "Config")
}

func runClientPerRequest(pass *analysis.Pass) (any, error) {
	if !inScope(pass) {
		return nil, nil
	}
	builds := clientBuilders(pass)
	via := func(fn *types.Func) (string, bool) {
		switch {
		case fn == nil:
			return "", false
		case !sameProgram(pass, fn.Pkg()):
			return "", isClientConstructor(fn)
		case fn.Pkg() == pass.Pkg:
			v, ok := builds[fn]
			return v, ok
		}
		var f buildsClient
		if pass.ImportObjectFact(fn, &f) {
			return f.Via, true
		}
		return "", false
	}
	r := newReporter(pass)
	inspectorOf(pass).WithStack([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push {
			return true
		}
		call := n.(*ast.CallExpr)
		fn := callee(pass.TypesInfo, call)
		chain, ok := via(fn)
		if !ok {
			return true
		}
		name := fn.Pkg().Name() + "." + fn.Name()
		what := "builds a new client with its own connections, TLS handshakes and rate limiter"
		if chain != "" {
			name = funcName(fn)
			what = "builds a new Kubernetes client on every call (" + name + " → " + chain + "), with its own connections, TLS handshakes and rate limiter"
		}
		switch where := perRequest(pass.TypesInfo, call, stack); where {
		case "":
		case "loop":
			r.reportf(call.Pos(), "%s is called inside a loop and %s: create the client once at start-up and reuse it", name, what)
		default:
			r.reportf(call.Pos(), "%s is called inside %s and %s: create the client once at start-up and reuse it (store it in the server struct)", name, where, what)
		}
		return true
	})
	return nil, nil
}

// perRequest says whether a call runs once per request or event: "an HTTP
// handler", "the HTTP handler NAME", "loop" (an event loop), or "" for once.
// An event loop is one whose length the program does not know: for {},
// for next() {} (a work queue), for range over a channel. A loop over a
// slice or map of configurations runs at start-up, a known number of times,
// and building one client per configured cluster there is right. A function
// literal that is not a handler ends the search: when it runs is not this
// function's to say.
func perRequest(info *types.Info, call *ast.CallExpr, stack []ast.Node) string {
	for i := len(stack) - 2; i >= 0; i-- {
		switch s := stack[i].(type) {
		case *ast.ForStmt:
			if (within(call, s.Body) || within(call, s.Cond)) && eventLoop(s) {
				return "loop"
			}
		case *ast.RangeStmt:
			if _, ch := info.TypeOf(s.X).Underlying().(*types.Chan); ch && within(call, s.Body) {
				return "loop"
			}
		case *ast.FuncLit:
			if isHandler(info.TypeOf(s)) {
				return "an HTTP handler"
			}
			return ""
		case *ast.FuncDecl:
			if obj := info.Defs[s.Name]; obj != nil && isHandler(obj.Type()) {
				return "the HTTP handler " + s.Name.Name
			}
			return ""
		}
	}
	return ""
}

// eventLoop reports whether a for loop runs until something happens rather
// than a counted number of times: no condition, or a condition that calls a
// function (for c.processNextItem() {}).
func eventLoop(s *ast.ForStmt) bool {
	if s.Cond == nil {
		return true
	}
	calls := false
	ast.Inspect(s.Cond, func(n ast.Node) bool {
		_, ok := n.(*ast.CallExpr)
		calls = calls || ok
		return !calls
	})
	return calls && s.Init == nil && s.Post == nil
}

func within(n ast.Node, block ast.Node) bool {
	return block != nil && n.Pos() >= block.Pos() && n.End() <= block.End()
}

// clientBuilders finds the package's functions that build a client when
// called, directly or through other calls (including interface methods whose
// implementations in the package do), and exports them as facts.
func clientBuilders(pass *analysis.Pass) map[*types.Func]string {
	decls := funcDecls(pass)
	builds := map[*types.Func]string{}
	calls := map[*types.Func][]*types.Func{}
	for _, d := range decls {
		ast.Inspect(d.decl.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if c := callee(pass.TypesInfo, call); c != nil {
					calls[d.fn] = append(calls[d.fn], c)
				}
			}
			return true
		})
	}
	lookup := func(c *types.Func) (string, bool) {
		if !sameProgram(pass, c.Pkg()) {
			if isClientConstructor(c) {
				return c.Pkg().Name() + "." + c.Name(), true
			}
			return "", false
		}
		if c.Pkg() == pass.Pkg {
			if v, ok := builds[c]; ok {
				return funcName(c) + chainTail(v), true
			}
			return "", false
		}
		var f buildsClient
		if pass.ImportObjectFact(c, &f) {
			return funcName(c) + chainTail(f.Via), true
		}
		return "", false
	}
	ifaces := interfaceMethods(pass)
	for changed := true; changed; {
		changed = false
		for _, d := range decls {
			fn := d.fn
			if _, done := builds[fn]; done {
				continue
			}
			for _, c := range calls[fn] {
				if v, ok := lookup(c); ok {
					builds[fn], changed = v, true
					break
				}
			}
		}
		// An interface method builds a client when an implementation in
		// this package does: a call through the interface may reach it.
		for _, mi := range ifaces {
			m, impls := mi.method, mi.impls
			if _, done := builds[m]; done {
				continue
			}
			for _, impl := range impls {
				if v, ok := builds[impl]; ok {
					builds[m], changed = funcName(impl)+chainTail(v), true
					break
				}
			}
		}
	}
	for fn, v := range builds {
		if fn.Pkg() == pass.Pkg {
			pass.ExportObjectFact(fn, &buildsClient{Via: v})
		}
	}
	return builds
}

func chainTail(v string) string {
	if v == "" {
		return ""
	}
	return " → " + v
}

type ifaceMethod struct {
	method *types.Func
	impls  []*types.Func
}

// interfaceMethods lists each method of the package's interface types with
// the methods of the package's named types that implement it, in a fixed
// order (scope names are sorted).
func interfaceMethods(pass *analysis.Pass) []ifaceMethod {
	var ifaces []*types.Named
	var concrete []types.Type
	scope := pass.Pkg.Scope()
	for _, name := range scope.Names() {
		tn, ok := scope.Lookup(name).(*types.TypeName)
		if !ok || tn.IsAlias() {
			continue
		}
		n, ok := tn.Type().(*types.Named)
		if !ok {
			continue
		}
		if types.IsInterface(n) {
			ifaces = append(ifaces, n)
		} else {
			concrete = append(concrete, n, types.NewPointer(n))
		}
	}
	var out []ifaceMethod
	idx := map[*types.Func]int{}
	for _, in := range ifaces {
		it := in.Underlying().(*types.Interface)
		for _, t := range concrete {
			if it.NumMethods() == 0 || !types.Implements(t, it) {
				continue
			}
			for m := range it.Methods() {
				if obj, _, _ := types.LookupFieldOrMethod(t, true, pass.Pkg, m.Name()); obj != nil {
					if impl, ok := obj.(*types.Func); ok && impl.Pkg() == pass.Pkg {
						i, ok := idx[m]
						if !ok {
							i = len(out)
							idx[m] = i
							out = append(out, ifaceMethod{method: m})
						}
						out[i].impls = append(out[i].impls, impl)
					}
				}
			}
		}
	}
	return out
}

// isHandler reports whether t is a func taking an http.ResponseWriter and an
// *http.Request: an http.HandlerFunc, a ServeHTTP method, a HandleFunc closure.
func isHandler(t types.Type) bool {
	sig, ok := t.(*types.Signature)
	if !ok {
		return false
	}
	w, r := false, false
	for v := range sig.Params().Variables() {
		w = w || isNamed(v.Type(), "net/http", "ResponseWriter")
		if p, ok := v.Type().(*types.Pointer); ok {
			r = r || isNamed(p.Elem(), "net/http", "Request")
		}
	}
	return w && r
}
