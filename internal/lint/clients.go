package lint

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
)

// ClientPerRequest flags Kubernetes clients built inside an HTTP handler or a
// loop. Each build makes a new transport: TLS handshakes, a connection pool
// and a client-side rate limiter per request, which exhausts the API server's
// connections and defeats its throttling.
var ClientPerRequest = &analysis.Analyzer{
	Name:     "k8sclientperrequest",
	Doc:      "report Kubernetes clientsets, dynamic and REST clients built per request (in an HTTP handler or a loop) instead of once at start-up",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runClientPerRequest,
}

var clientConstructors = map[string][]string{
	clientGo + "kubernetes": {"NewForConfig", "NewForConfigOrDie", "NewForConfigAndClient"},
	clientGo + "dynamic":    {"NewForConfig", "NewForConfigOrDie", "NewForConfigAndClient"},
	clientGo + "metadata":   {"NewForConfig", "NewForConfigOrDie", "NewForConfigAndClient"},
	clientGo + "rest":       {"RESTClientFor", "UnversionedRESTClientFor", "HTTPClientFor", "RESTClientForConfigAndClient"},
}

func runClientPerRequest(pass *analysis.Pass) (any, error) {
	inspectorOf(pass).WithStack([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push {
			return true
		}
		call := n.(*ast.CallExpr)
		fn := callee(pass.TypesInfo, call)
		if fn == nil || fn.Pkg() == nil || !isFunc(fn, fn.Pkg().Path(), clientConstructors[fn.Pkg().Path()]...) {
			return true
		}
		name := fn.Pkg().Name() + "." + fn.Name()
		inLoop, inFunc := false, false
		for i := len(stack) - 2; i >= 0; i-- {
			switch s := stack[i].(type) {
			case *ast.ForStmt:
				inLoop = inLoop || (!inFunc && within(call, s.Body))
			case *ast.RangeStmt:
				inLoop = inLoop || (!inFunc && within(call, s.Body))
			case *ast.FuncLit:
				if isHandler(pass.TypesInfo.TypeOf(s)) {
					pass.Reportf(call.Pos(), "%s is called inside an HTTP handler, so every request builds a new client with its own connections, TLS handshakes and rate limiter: create the client once at start-up and reuse it (store it in the server struct)", name)
					return true
				}
				inFunc = true
			case *ast.FuncDecl:
				if obj := pass.TypesInfo.Defs[s.Name]; obj != nil && isHandler(obj.Type()) {
					pass.Reportf(call.Pos(), "%s is called inside the HTTP handler %s, so every request builds a new client with its own connections, TLS handshakes and rate limiter: create the client once at start-up and reuse it (store it in the server struct)", name, s.Name.Name)
					return true
				}
				inFunc = true
			}
		}
		if inLoop {
			pass.Reportf(call.Pos(), "%s is called inside a loop, so every iteration builds a new client with its own connections and rate limiter: create the client once at start-up and reuse it", name)
		}
		return true
	})
	return nil, nil
}

func within(n ast.Node, block *ast.BlockStmt) bool {
	return block != nil && n.Pos() >= block.Pos() && n.End() <= block.End()
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
