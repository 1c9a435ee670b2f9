package lint

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
)

// HealthMux flags health routes registered on the same mux as business
// routes. Liveness served by the business server fails when that server is
// saturated or draining, and the kubelet then restarts a pod that was only
// busy; probes belong on their own server and port.
//
// Operational routes are neither health nor business: a mux that serves
// only health and operational routes is a probe or metrics port, which is
// where probes belong. Operational routes are the path prefixes of the
// -healthmux.operational flag (DefaultOperational: the process's own
// /metrics, /debug/ for pprof and expvar, /version). A /metrics route is
// operational only when a promhttp handler serves it: a /metrics served by
// anything else is what the service exists to serve (kube-state-metrics'
// :8080), so it is business.
var HealthMux = &analysis.Analyzer{
	Name:      "healthmux",
	Doc:       "report /healthz, /livez, /readyz and /health registered on the same mux as business routes (net/http, gorilla/mux, chi, gin, echo, prometheus route)",
	Requires:  []*analysis.Analyzer{inspect.Analyzer},
	Run:       runHealthMux,
	FactTypes: []analysis.Fact{new(defaultMuxRoutes)},
}

// DefaultOperational is the default of -healthmux.operational.
const DefaultOperational = "/metrics,/debug/,/version"

var operational = DefaultOperational

func init() {
	HealthMux.Flags.StringVar(&operational, "operational", DefaultOperational, "comma-separated path prefixes of operational routes (metrics, pprof, status), which are neither health nor business; /metrics counts only when served by promhttp")
}

// defaultMuxRoutes is the package fact listing the business routes a package
// registers on http.DefaultServeMux, which every package of the binary
// shares.
type defaultMuxRoutes struct{ Business []string }

func (*defaultMuxRoutes) AFact()           {}
func (f *defaultMuxRoutes) String() string { return "defaultMuxRoutes" + fmt.Sprint(f.Business) }

var healthPaths = map[string]bool{"/healthz": true, "/livez": true, "/readyz": true, "/health": true, "/healthy": true, "/ready": true, "/live": true, "/-/healthy": true, "/-/ready": true}

// routerPkgs are the router packages whose registrations healthmux reads, by
// import path prefix.
var routerPkgs = []string{"github.com/gorilla/mux", "github.com/go-chi/chi", "github.com/gin-gonic/gin", "github.com/labstack/echo", "github.com/prometheus/common/route", "github.com/julienschmidt/httprouter"}

// pathArg returns the index of the path argument of a route registration
// method, or -1.
func pathArg(fn *types.Func) int {
	if fn == nil || fn.Pkg() == nil || signature(fn).Recv() == nil {
		return -1
	}
	p := fn.Pkg().Path()
	known := p == "net/http"
	for _, r := range routerPkgs {
		known = known || p == r || strings.HasPrefix(p, r+"/")
	}
	if !known {
		return -1
	}
	if p == "net/http" && !isNamed(recvType(fn), "net/http", "ServeMux") {
		return -1
	}
	switch fn.Name() {
	case "Handle", "HandleFunc", "Path", "PathPrefix", "Get", "Post", "Put", "Patch", "Delete", "Del", "Head", "Options", "Any",
		"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "Mount", "Match", "Connect", "Trace":
		if fn.Name() == "Handle" && strings.HasPrefix(p, "github.com/gin-gonic/gin") {
			return 1 // gin: Handle(method, path, …)
		}
		if fn.Name() == "Handle" && strings.HasPrefix(p, "github.com/julienschmidt/httprouter") {
			return 1
		}
		return 0
	case "Method", "MethodFunc", "Add":
		return 1
	}
	return -1
}

type route struct {
	call    *ast.CallExpr
	path    string
	handler ast.Expr
}

type mux struct {
	key              any
	name             string
	health, business []route
}

func runHealthMux(pass *analysis.Pass) (any, error) {
	if !inScope(pass) {
		return nil, nil
	}
	info := pass.TypesInfo
	var prefixes []string
	for _, p := range strings.Split(operational, ",") {
		if p = strings.TrimSpace(p); p != "" {
			prefixes = append(prefixes, p)
		}
	}
	promAssigned := promhttpVars(pass)
	isOperational := func(r route) bool {
		for _, p := range prefixes {
			if r.path == p || strings.HasPrefix(r.path, strings.TrimSuffix(p, "/")+"/") {
				if strings.HasSuffix(r.path, "/metrics") {
					return servesPromhttp(info, r.handler, promAssigned)
				}
				return true
			}
		}
		return false
	}
	muxes := map[any]*mux{}
	var order []*mux
	inspectorOf(pass).Preorder([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node) {
		call := n.(*ast.CallExpr)
		fn := callee(info, call)
		var key any
		var name string
		i := -1
		if isFunc(fn, "net/http", "Handle", "HandleFunc") {
			key, name, i = defaultMux, "http.DefaultServeMux", 0
		} else if i = pathArg(fn); i >= 0 {
			sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
			if !ok {
				return
			}
			name = types.ExprString(sel.X)
			if obj := objectOf(info, sel.X); obj != nil {
				key = obj
			} else {
				key = name
			}
		}
		if key == nil || i >= len(call.Args) {
			return
		}
		path, ok := constPath(info, call.Args[i])
		if !ok {
			return
		}
		r := route{call: call, path: routePath(path)}
		if i+1 < len(call.Args) {
			r.handler = call.Args[len(call.Args)-1]
		}
		m := muxes[key]
		if m == nil {
			m = &mux{key: key, name: name}
			muxes[key] = m
			order = append(order, m)
		}
		switch {
		case healthPaths[r.path]:
			m.health = append(m.health, r)
		case isOperational(r):
		default:
			m.business = append(m.business, r)
		}
	})
	// http.DefaultServeMux is shared by every package of the binary: its
	// business routes may be registered in another package.
	var own []string
	if m := muxes[defaultMux]; m != nil {
		for _, r := range m.business {
			own = append(own, r.path)
		}
		if len(own) > 0 {
			pass.ExportPackageFact(&defaultMuxRoutes{Business: own})
		}
		for _, pf := range pass.AllPackageFacts() {
			if f, ok := pf.Fact.(*defaultMuxRoutes); ok && pf.Package != pass.Pkg {
				for _, p := range f.Business {
					m.business = append(m.business, route{path: p + " (package " + pf.Package.Name() + ")"})
				}
			}
		}
	}
	r := newReporter(pass)
	for _, m := range order {
		if len(m.health) == 0 || len(m.business) == 0 {
			continue
		}
		var biz []string
		for _, b := range m.business {
			biz = append(biz, b.path)
		}
		sort.Strings(biz)
		biz = compact(biz)
		if len(biz) > 5 {
			biz = append(biz[:5], fmt.Sprintf("and %d more", len(biz)-5))
		}
		server := muxServer(pass, m)
		for _, h := range m.health {
			r.reportf(h.call.Pos(), "health route %s is registered on %s together with business routes (%s): when that server is saturated or draining, liveness fails and the kubelet restarts a busy pod; serve probes from a separate http.Server with its own mux on the probe port (e.g. :8081)", h.path, server, strings.Join(biz, ", "))
		}
	}
	return nil, nil
}

type defaultMuxKey struct{}

var defaultMux = defaultMuxKey{}

func compact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// muxServer names the server a mux belongs to: the http.Server whose
// Handler is (or wraps) it, or the ListenAndServe that serves it.
func muxServer(pass *analysis.Pass, m *mux) string {
	info := pass.TypesInfo
	obj, _ := m.key.(types.Object)
	aliases := muxAliases(pass, obj)
	mentions := func(e ast.Expr) bool {
		if e == nil {
			return m.key == defaultMux
		}
		if tv, ok := info.Types[e]; ok && tv.IsNil() {
			return m.key == defaultMux
		}
		found := false
		ast.Inspect(e, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && aliases[info.Uses[id]] {
				found = true
			}
			if sel, ok := n.(*ast.SelectorExpr); ok && aliases[info.Uses[sel.Sel]] {
				found = true
			}
			return !found
		})
		return found
	}
	name := ""
	inspectorOf(pass).WithStack([]ast.Node{(*ast.CompositeLit)(nil), (*ast.CallExpr)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if name != "" || !push {
			return name == ""
		}
		switch n := n.(type) {
		case *ast.CompositeLit:
			if !isServerType(info.TypeOf(n)) {
				return true
			}
			var handler, addr ast.Expr
			for _, el := range n.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if id, ok := kv.Key.(*ast.Ident); ok {
						switch id.Name {
						case "Handler":
							handler = kv.Value
						case "Addr":
							addr = kv.Value
						}
					}
				}
			}
			if handler != nil && mentions(handler) || handler == nil && m.key == defaultMux {
				name = "the http.Server"
				if v := holderName(stack); v != "" {
					name += " " + v
				}
				if addr != nil {
					name += " on " + types.ExprString(addr)
				}
			}
		case *ast.CallExpr:
			if fn := callee(info, n); isFunc(fn, "net/http", "ListenAndServe", "ListenAndServeTLS") && len(n.Args) > 0 && mentions(n.Args[len(n.Args)-1]) {
				name = "the server of http." + fn.Name() + "(" + types.ExprString(n.Args[0]) + ", …)"
			}
		}
		return true
	})
	if name == "" {
		return "the mux " + m.name
	}
	return name + " (mux " + m.name + ")"
}

// holderName names the variable a literal on top of stack is assigned to
// (srv := &http.Server{…}), or "".
func holderName(stack []ast.Node) string {
	var expr ast.Node = stack[len(stack)-1]
	for i := len(stack) - 2; i >= 0; i-- {
		switch p := stack[i].(type) {
		case *ast.UnaryExpr, *ast.ParenExpr:
			expr = p
			continue
		case *ast.AssignStmt:
			for j, r := range p.Rhs {
				if r == expr && j < len(p.Lhs) && len(p.Lhs) == len(p.Rhs) {
					return types.ExprString(p.Lhs[j])
				}
			}
		case *ast.ValueSpec:
			for j, v := range p.Values {
				if v == expr && j < len(p.Names) {
					return p.Names[j].Name
				}
			}
		}
		return ""
	}
	return ""
}

// muxAliases returns the variables that hold a mux: its own, and those
// assigned the result of the function that builds and returns it
// (metricsMux := buildMetricsServer(…)), one call away.
func muxAliases(pass *analysis.Pass, obj types.Object) map[types.Object]bool {
	out := map[types.Object]bool{}
	if obj == nil {
		return out
	}
	out[obj] = true
	info := pass.TypesInfo
	var builder *types.Func
	for _, d := range funcDecls(pass) {
		if !within(&ast.Ident{NamePos: obj.Pos(), Name: obj.Name()}, d.decl.Body) {
			continue
		}
		ast.Inspect(d.decl.Body, func(n ast.Node) bool {
			if _, lit := n.(*ast.FuncLit); lit {
				return false
			}
			if ret, ok := n.(*ast.ReturnStmt); ok && len(ret.Results) == 1 && objectOf(info, ret.Results[0]) == obj {
				builder = d.fn
			}
			return builder == nil
		})
	}
	if builder == nil {
		return out
	}
	inspectorOf(pass).Preorder([]ast.Node{(*ast.AssignStmt)(nil)}, func(n ast.Node) {
		as := n.(*ast.AssignStmt)
		if len(as.Lhs) != len(as.Rhs) {
			return
		}
		for i, r := range as.Rhs {
			if call, ok := ast.Unparen(r).(*ast.CallExpr); ok && callee(info, call) == builder {
				if o := objectOf(info, as.Lhs[i]); o != nil {
					out[o] = true
				}
			}
		}
	})
	return out
}

// promhttpVars returns the variables that hold a promhttp handler: assigned
// one anywhere, then perhaps wrapped (an auth filter, a fallback) — still the
// process's own metrics.
func promhttpVars(pass *analysis.Pass) map[types.Object]bool {
	info := pass.TypesInfo
	out := map[types.Object]bool{}
	record := func(lhs, rhs []ast.Expr) {
		if len(lhs) != len(rhs) {
			return
		}
		for i, l := range lhs {
			if obj := objectOf(info, l); obj != nil && isPromhttpCall(info, rhs[i]) {
				out[obj] = true
			}
		}
	}
	inspectorOf(pass).Preorder([]ast.Node{(*ast.AssignStmt)(nil), (*ast.ValueSpec)(nil)}, func(n ast.Node) {
		switch n := n.(type) {
		case *ast.AssignStmt:
			record(n.Lhs, n.Rhs)
		case *ast.ValueSpec:
			record(specNames(n), n.Values)
		}
	})
	return out
}

// isPromhttpCall reports whether e is a promhttp handler serving a registry
// (Handler, HandlerFor, InstrumentMetricHandler), not promhttp's
// middleware around another handler (InstrumentHandlerDuration and the
// like, which kube-state-metrics wraps its product in).
func isPromhttpCall(info *types.Info, e ast.Expr) bool {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		return false
	}
	fn := callee(info, call)
	return isFunc(fn, "github.com/prometheus/client_golang/prometheus/promhttp", "Handler", "HandlerFor", "HandlerForTransactional", "InstrumentMetricHandler")
}

// servesPromhttp reports whether a /metrics handler is client_golang's
// promhttp: the process's own metrics, not the service's product.
func servesPromhttp(info *types.Info, h ast.Expr, promVars map[types.Object]bool) bool {
	if h == nil {
		return false
	}
	if isPromhttpCall(info, h) {
		return true
	}
	if obj := objectOf(info, h); obj != nil {
		return promVars[obj]
	}
	return false
}

// constPath returns a route's path when the source spells it: a constant,
// or a constant joined to a prefix (prefix + "/healthz",
// s.prefixedPath("/healthz"), path.Join(base, "/healthz")), whose last
// constant is the route.
func constPath(info *types.Info, e ast.Expr) (string, bool) {
	str := func(e ast.Expr) (string, bool) {
		tv := info.Types[e]
		if tv.Value == nil || tv.Value.Kind() != constant.String {
			return "", false
		}
		return constant.StringVal(tv.Value), true
	}
	if s, ok := str(e); ok {
		return s, true
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.BinaryExpr:
		if s, ok := str(e.Y); ok && strings.HasPrefix(s, "/") {
			return s, true
		}
	case *ast.CallExpr:
		if len(e.Args) > 0 {
			if s, ok := str(e.Args[len(e.Args)-1]); ok && strings.HasPrefix(s, "/") {
				return s, true
			}
		}
	}
	return "", false
}

// routePath returns the path of a route pattern: "GET example.com/healthz"
// → "/healthz"; a trailing slash or {$} does not make another route.
func routePath(pattern string) string {
	if _, rest, ok := strings.Cut(pattern, " "); ok {
		pattern = strings.TrimSpace(rest)
	}
	if i := strings.Index(pattern, "/"); i > 0 {
		pattern = pattern[i:]
	}
	pattern = strings.TrimSuffix(pattern, "{$}")
	if len(pattern) > 1 {
		pattern = strings.TrimSuffix(pattern, "/")
	}
	return pattern
}
