package lint

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"reflect"
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
// A health route is one of the probe-path family (isProbePath: /healthz,
// /livez, /readyz, /health, /ready, /live and their sub-paths such as
// /health/ready or /livez/ping, or an API path ending in one of them), or a
// path that the repository's own Kubernetes manifests or Helm charts probe
// (livenessProbe, readinessProbe, startupProbe).
//
// Every other route is business unless it is operational or a status route:
//   - operational routes are the path prefixes of the -healthmux.operational
//     flag (DefaultOperational: the process's own /metrics, /debug/ for
//     pprof and expvar, /version). A /metrics route is operational only when
//     a promhttp handler serves it (directly, wrapped, or returned by a
//     function of the program): a /metrics served by anything else is what
//     the service exists to serve (kube-state-metrics' :8080), so it is
//     business;
//   - status routes exist only on a lone server, when the program (this
//     package and the packages it imports) has one HTTP server: a route is
//     a status route when it takes GET (or any method, unspecified), is an
//     exact path (no wildcard, parameter or subtree), and its handler, which
//     the analyzer can read, reads nothing of the request but its metadata
//     (method, URL, headers, context): it reports the process's state
//     (/last-poll beside /healthz). A handler that reads the body or form,
//     hands the request to other code, or cannot be read is business.
//
// A mux that serves only health, operational and status routes is a probe,
// metrics or status port, which is where probes belong: no finding.
var HealthMux = &analysis.Analyzer{
	Name:       "healthmux",
	Doc:        "report health routes (/healthz, /livez, /readyz, /health and their family, or the paths the repository's manifests probe) registered on the same mux as business routes (net/http, gorilla/mux, chi, gin, echo, prometheus route, httprouter)",
	Requires:   []*analysis.Analyzer{inspect.Analyzer},
	Run:        runHealthMux,
	ResultType: reflect.TypeOf((*httpServing)(nil)),
	FactTypes:  []analysis.Fact{new(defaultMuxRoutes), new(httpServers), new(promhttpFunc)},
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

// httpServers is the package fact counting the HTTP servers a package
// creates or starts (http.Server values, http.ListenAndServe and the like,
// a router's Run): a mux is a lone server's when the program has one.
type httpServers struct{ N int }

func (*httpServers) AFact()           {}
func (f *httpServers) String() string { return fmt.Sprintf("httpServers(%d)", f.N) }

// promhttpFunc is the fact that a function returns the process's own
// metrics handler (promhttp's, perhaps wrapped).
type promhttpFunc struct{}

func (*promhttpFunc) AFact()         {}
func (*promhttpFunc) String() string { return "promhttpFunc" }

// httpServing is healthmux's result for the package: its serving points and
// whether each serves business routes (for the sigterm analyzer).
type httpServing struct {
	Points []servingPoint
}

// servingPoint is an HTTP server the package creates or starts.
type servingPoint struct {
	Pos      token.Pos
	Name     string
	Business bool
}

// probeWords are the path segments that name a probe.
var probeWords = map[string]bool{"healthz": true, "livez": true, "readyz": true, "health": true, "healthy": true, "healthcheck": true, "ready": true, "readiness": true, "live": true, "liveness": true, "alive": true}

// isProbePath reports whether a route path is of the probe-path family: its
// first segment names a probe (/healthz, /health/ready, /livez/ping,
// /-/healthy), or its last does in a path without parameters
// (/api/v1/health).
func isProbePath(p string) bool {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	if len(segs) > 0 && segs[0] == "-" {
		segs = segs[1:]
	}
	if len(segs) == 0 || segs[0] == "" {
		return false
	}
	if probeWords[segs[0]] {
		return true
	}
	return probeWords[segs[len(segs)-1]] && !strings.ContainsAny(p, "{}:*")
}

// routerPkgs are the router packages whose registrations healthmux reads, by
// import path prefix.
var routerPkgs = []string{"github.com/gorilla/mux", "github.com/go-chi/chi", "github.com/gin-gonic/gin", "github.com/labstack/echo", "github.com/prometheus/common/route", "github.com/julienschmidt/httprouter"}

func isRouterPkg(p string) bool {
	for _, r := range routerPkgs {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// pathArg returns the index of the path argument of a route registration
// method, or -1.
func pathArg(fn *types.Func) int {
	if fn == nil || fn.Pkg() == nil || signature(fn).Recv() == nil {
		return -1
	}
	p := fn.Pkg().Path()
	if p != "net/http" && !isRouterPkg(p) {
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
	call *ast.CallExpr
	// pattern as written, path as routed, method ("" for any).
	pattern, path, method string
	handler               ast.Expr
	// probe: the manifest that probes this path ("" when it is of the
	// probe-path family, or not a probe).
	probe string
}

type mux struct {
	key              any
	name             string
	routes           []route
	health, business []route
	aliases          map[types.Object]bool
}

// routeMethod returns the HTTP method a registration restricts its route to:
// from the pattern ("GET /x"), the router method (r.Post), the method
// argument (gin's Handle("POST", …), chi's Method), or a chained
// .Methods("POST") (gorilla); "" when any method is served.
func routeMethod(info *types.Info, fn *types.Func, call *ast.CallExpr, pattern string, stack []ast.Node) string {
	if m, _, ok := strings.Cut(pattern, " "); ok && m != "" && strings.ToUpper(m) == m {
		return m
	}
	switch n := strings.ToUpper(fn.Name()); n {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE":
		return n
	case "DEL":
		return "DELETE"
	}
	if i := pathArg(fn); i == 1 && len(call.Args) > 0 && fn.Name() != "Add" {
		if tv := info.Types[call.Args[0]]; tv.Value != nil && tv.Value.Kind() == constant.String {
			return strings.ToUpper(constant.StringVal(tv.Value))
		}
	}
	// gorilla: r.HandleFunc(…).Methods("POST", …)
	if len(stack) >= 3 {
		if sel, ok := stack[len(stack)-2].(*ast.SelectorExpr); ok && sel.X == call && sel.Sel.Name == "Methods" {
			if c, ok := stack[len(stack)-3].(*ast.CallExpr); ok {
				var ms []string
				for _, a := range c.Args {
					if tv := info.Types[a]; tv.Value != nil && tv.Value.Kind() == constant.String {
						ms = append(ms, strings.ToUpper(constant.StringVal(tv.Value)))
					}
				}
				for _, m := range ms {
					if m != "GET" && m != "HEAD" {
						return m
					}
				}
				if len(ms) > 0 {
					return "GET"
				}
			}
		}
	}
	return ""
}

func runHealthMux(pass *analysis.Pass) (any, error) {
	if !inScope(pass) {
		return (*httpServing)(nil), nil
	}
	info := pass.TypesInfo
	var prefixes []string
	for _, p := range strings.Split(operational, ",") {
		if p = strings.TrimSpace(p); p != "" {
			prefixes = append(prefixes, p)
		}
	}
	prom := newPromhttp(pass)
	isOperational := func(r route) bool {
		for _, p := range prefixes {
			if r.path == p || strings.HasPrefix(r.path, strings.TrimSuffix(p, "/")+"/") {
				if strings.HasSuffix(r.path, "/metrics") {
					return prom.serves(r.handler)
				}
				return true
			}
		}
		return false
	}
	muxes := map[any]*mux{}
	var order []*mux
	inspectorOf(pass).WithStack([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push {
			return true
		}
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
				return true
			}
			name = types.ExprString(sel.X)
			if obj := objectOf(info, sel.X); obj != nil {
				key = obj
			} else {
				key = name
			}
		}
		if key == nil || i >= len(call.Args) {
			return true
		}
		pattern, ok := constPath(info, call.Args[i])
		if !ok {
			return true
		}
		r := route{call: call, pattern: pattern, path: routePath(pattern), method: routeMethod(info, fn, call, pattern, stack)}
		if i+1 < len(call.Args) {
			r.handler = call.Args[len(call.Args)-1]
		}
		m := muxes[key]
		if m == nil {
			m = &mux{key: key, name: name}
			muxes[key] = m
			order = append(order, m)
		}
		m.routes = append(m.routes, r)
		return true
	})
	points := servingPoints(pass)
	if len(points) > 0 {
		pass.ExportPackageFact(&httpServers{N: len(points)})
	}
	servers := len(points)
	for _, pf := range pass.AllPackageFacts() {
		if f, ok := pf.Fact.(*httpServers); ok && pf.Package != pass.Pkg {
			servers += f.N
		}
	}
	lone := servers <= 1
	var probes []probePath
	if len(order) > 0 && len(pass.Files) > 0 {
		probes = manifestProbes(moduleRoot(pass.Fset.Position(pass.Files[0].Pos()).Filename, pass.Module.Path != ""))
	}
	probeOf := func(path string) (string, bool) {
		for _, p := range probes {
			if p.path == path {
				return fmt.Sprintf("the %s path in %s", p.kind, p.file), true
			}
		}
		return "", isProbePath(path)
	}
	for _, m := range order {
		for _, r := range m.routes {
			// The kubelet probes with GET: /readyz/enable taking POST is an
			// admin action, not a probe.
			get := r.method == "" || r.method == "GET" || r.method == "HEAD"
			if src, ok := probeOf(r.path); ok && get {
				r.probe = src
				m.health = append(m.health, r)
				continue
			}
			if isOperational(r) || lone && statusRoute(pass, r) {
				continue
			}
			m.business = append(m.business, r)
		}
	}
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
	}
	var shared []string
	for _, pf := range pass.AllPackageFacts() {
		if f, ok := pf.Fact.(*defaultMuxRoutes); ok && pf.Package != pass.Pkg {
			for _, p := range f.Business {
				shared = append(shared, p+" (package "+pf.Package.Name()+")")
			}
		}
	}
	if m := muxes[defaultMux]; m != nil {
		for _, p := range shared {
			m.business = append(m.business, route{path: p})
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
			what := h.path
			if h.probe != "" {
				what += " (" + h.probe + ")"
			}
			r.reportf(h.call.Pos(), "health route %s is registered on %s together with business routes (%s): when that server is saturated or draining, liveness fails and the kubelet restarts a busy pod; serve probes from a separate http.Server with its own mux on the probe port (e.g. :8081)", what, server, strings.Join(biz, ", "))
		}
	}
	// Which serving points serve business: the sigterm analyzer's question.
	res := &httpServing{}
	defaultBusiness := len(shared) > 0
	if m := muxes[defaultMux]; m != nil && len(m.business) > 0 {
		defaultBusiness = true
	}
	for _, p := range points {
		business := true
		switch {
		case p.defaultMux:
			business = defaultBusiness
		case p.handler != nil:
			for _, m := range order {
				if m.key != defaultMux && mentionsMux(pass, m, p.handler) {
					business = len(m.business) > 0
					break
				}
			}
		}
		res.Points = append(res.Points, servingPoint{Pos: p.pos, Name: p.name, Business: business})
	}
	return res, nil
}

// point is a place where the package creates or starts an HTTP server, and
// the handler it serves: handler nil and defaultMux set for
// http.DefaultServeMux, handler nil otherwise when the analyzer cannot tell.
type point struct {
	pos        token.Pos
	name       string
	handler    ast.Expr
	defaultMux bool
}

// servingPoints lists the package's HTTP servers: http.Server values,
// http.ListenAndServe[TLS] and http.Serve[TLS], and the routers' own
// Run/Start.
func servingPoints(pass *analysis.Pass) []point {
	info := pass.TypesInfo
	// A Handler assigned after the literal (srv.Handler = mux) hides which
	// handler a literal without one serves.
	handlerSet := false
	inspectorOf(pass).Preorder([]ast.Node{(*ast.AssignStmt)(nil)}, func(n ast.Node) {
		for _, l := range n.(*ast.AssignStmt).Lhs {
			if sel, ok := ast.Unparen(l).(*ast.SelectorExpr); ok && sel.Sel.Name == "Handler" && isServerType(info.TypeOf(sel.X)) {
				handlerSet = true
			}
		}
	})
	isNil := func(e ast.Expr) bool {
		tv, ok := info.Types[e]
		return ok && tv.IsNil()
	}
	var out []point
	inspectorOf(pass).Preorder([]ast.Node{(*ast.CompositeLit)(nil), (*ast.CallExpr)(nil)}, func(n ast.Node) {
		switch n := n.(type) {
		case *ast.CompositeLit:
			if !isServerType(info.TypeOf(n)) {
				return
			}
			p := point{pos: n.Pos(), name: "the http.Server" + serverName(info, n)}
			for _, el := range n.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "Handler" {
						p.handler = kv.Value
					}
				}
			}
			switch {
			case p.handler != nil && isNil(p.handler):
				p.handler, p.defaultMux = nil, true
			case p.handler == nil && !handlerSet:
				p.defaultMux = true
			}
			out = append(out, p)
		case *ast.CallExpr:
			fn := callee(info, n)
			switch {
			case fn == nil:
			case isFunc(fn, "net/http", "ListenAndServe", "ListenAndServeTLS", "Serve", "ServeTLS"):
				p := point{pos: n.Pos(), name: "http." + fn.Name()}
				h := 1 // ListenAndServe(addr, h), Serve(l, h), ServeTLS(l, h, cert, key)
				if fn.Name() == "ListenAndServeTLS" {
					h = 3
				}
				if h < len(n.Args) {
					if isNil(n.Args[h]) {
						p.defaultMux = true
					} else {
						p.handler = n.Args[h]
					}
				}
				out = append(out, p)
			case isServerType(info.TypeOf(n)) && isBuiltin(info, n.Fun, "new"):
				out = append(out, point{pos: n.Pos(), name: "new(http.Server)"})
			case fn.Pkg() != nil && isRouterPkg(fn.Pkg().Path()) && signature(fn).Recv() != nil && (fn.Name() == "Run" || fn.Name() == "RunTLS" || fn.Name() == "Start" || fn.Name() == "StartTLS"):
				if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok {
					out = append(out, point{pos: n.Pos(), name: types.ExprString(n.Fun), handler: sel.X})
				}
			}
		}
	})
	return out
}

func isBuiltin(info *types.Info, fun ast.Expr, name string) bool {
	id, ok := ast.Unparen(fun).(*ast.Ident)
	if !ok {
		return false
	}
	b, ok := info.Uses[id].(*types.Builtin)
	return ok && b.Name() == name
}

// requestMeta are the fields and methods of *http.Request a status handler
// may read: the request's metadata, not its content.
var requestMeta = map[string]bool{"Method": true, "URL": true, "Header": true, "Host": true, "RemoteAddr": true, "RequestURI": true, "Proto": true, "ProtoMajor": true, "ProtoMinor": true, "Context": true, "UserAgent": true, "Referer": true, "TLS": true, "Pattern": true}

// statusRoute reports whether a route on a lone server reports the
// process's state rather than serving business: GET (or any method), an
// exact path, and a handler the analyzer can read that reads nothing of the
// request but its metadata.
func statusRoute(pass *analysis.Pass, r route) bool {
	if r.method != "" && r.method != "GET" && r.method != "HEAD" {
		return false
	}
	pattern := r.pattern
	if _, rest, ok := strings.Cut(pattern, " "); ok {
		pattern = strings.TrimSpace(rest)
	}
	if pattern == "" || strings.ContainsAny(pattern, "{}*:") || strings.HasSuffix(pattern, "/") && !strings.HasSuffix(pattern, "{$}") {
		return false
	}
	body, req := handlerBody(pass, r.handler, 0)
	if body == nil {
		return false
	}
	if req == nil {
		return true
	}
	info := pass.TypesInfo
	reads := false
	ast.Inspect(body, func(n ast.Node) bool {
		if reads {
			return false
		}
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := ast.Unparen(n.X).(*ast.Ident); ok && info.Uses[id] == req {
				if !requestMeta[n.Sel.Name] {
					reads = true
				}
				return false
			}
		case *ast.Ident:
			if info.Uses[n] == req {
				reads = true // handed to other code, or stored
			}
		}
		return true
	})
	return !reads
}

// handlerBody returns the body of a net/http handler the analyzer can read
// and its *http.Request parameter (nil when unnamed): a function literal, a
// function or method of this package, http.HandlerFunc(f), or a value of a
// type of this package whose ServeHTTP it declares.
func handlerBody(pass *analysis.Pass, h ast.Expr, depth int) (*ast.BlockStmt, types.Object) {
	if h == nil || depth > 4 {
		return nil, nil
	}
	info := pass.TypesInfo
	fromDecl := func(fn *types.Func) (*ast.BlockStmt, types.Object) {
		if fn == nil || fn.Pkg() != pass.Pkg {
			return nil, nil
		}
		for _, d := range funcDecls(pass) {
			if d.fn == fn {
				return d.decl.Body, requestParam(info, d.decl.Type)
			}
		}
		return nil, nil
	}
	switch e := ast.Unparen(h).(type) {
	case *ast.FuncLit:
		return e.Body, requestParam(info, e.Type)
	case *ast.Ident, *ast.SelectorExpr:
		if fn, ok := objectOf(info, e).(*types.Func); ok {
			return fromDecl(fn)
		}
	case *ast.CallExpr:
		// http.HandlerFunc(f): a conversion.
		if tv, ok := info.Types[e.Fun]; ok && tv.IsType() && len(e.Args) == 1 {
			return handlerBody(pass, e.Args[0], depth+1)
		}
		return nil, nil
	case *ast.UnaryExpr, *ast.CompositeLit:
	default:
		return nil, nil
	}
	// A value whose type declares ServeHTTP here.
	t := info.TypeOf(h)
	if t == nil {
		return nil, nil
	}
	obj, _, _ := types.LookupFieldOrMethod(t, true, pass.Pkg, "ServeHTTP")
	fn, _ := obj.(*types.Func)
	return fromDecl(fn)
}

// requestParam returns the *http.Request parameter of a handler's type.
func requestParam(info *types.Info, ft *ast.FuncType) types.Object {
	for _, f := range ft.Params.List {
		if p, ok := info.TypeOf(f.Type).(*types.Pointer); ok && isNamed(p.Elem(), "net/http", "Request") {
			for _, name := range f.Names {
				if name.Name != "_" {
					return info.Defs[name]
				}
			}
		}
	}
	return nil
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
	mentions := func(e ast.Expr) bool { return mentionsMux(pass, m, e) }
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

// mentionsMux reports whether a server's handler expression is (or wraps)
// the mux m; nil, or a nil handler, is http.DefaultServeMux.
func mentionsMux(pass *analysis.Pass, m *mux, e ast.Expr) bool {
	info := pass.TypesInfo
	if e == nil {
		return m.key == defaultMux
	}
	if tv, ok := info.Types[e]; ok && tv.IsNil() {
		return m.key == defaultMux
	}
	if m.aliases == nil {
		obj, _ := m.key.(types.Object)
		m.aliases = muxAliases(pass, obj)
	}
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && m.aliases[info.Uses[id]] {
			found = true
		}
		if sel, ok := n.(*ast.SelectorExpr); ok && m.aliases[info.Uses[sel.Sel]] {
			found = true
		}
		return !found
	})
	return found
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

// promhttp recognises the process's own metrics handler: client_golang's
// promhttp handler, perhaps wrapped (an auth filter, instrumentation), held
// in a variable, or returned by a function of the program
// (whsvr.MetricsHandler() returning instrument(promhttp.Handler())).
type promhttp struct {
	pass  *analysis.Pass
	vars  map[types.Object]bool
	funcs map[*types.Func]bool
}

func newPromhttp(pass *analysis.Pass) *promhttp {
	info := pass.TypesInfo
	p := &promhttp{pass: pass, vars: map[types.Object]bool{}, funcs: map[*types.Func]bool{}}
	type assign struct {
		obj types.Object
		e   ast.Expr
	}
	var assigns []assign
	record := func(lhs, rhs []ast.Expr) {
		if len(lhs) != len(rhs) {
			return
		}
		for i, l := range lhs {
			if obj := objectOf(info, l); obj != nil {
				assigns = append(assigns, assign{obj, rhs[i]})
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
	decls := funcDecls(pass)
	// Variables assigned one, and functions returning one, until nothing
	// changes (a function may return a variable, a variable hold a call).
	for changed := true; changed; {
		changed = false
		for _, a := range assigns {
			if !p.vars[a.obj] && p.serves(a.e) {
				p.vars[a.obj], changed = true, true
			}
		}
		for _, d := range decls {
			if p.funcs[d.fn] || signature(d.fn).Results().Len() == 0 {
				continue
			}
			ast.Inspect(d.decl.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.FuncLit:
					return false
				case *ast.ReturnStmt:
					if len(n.Results) > 0 && p.serves(n.Results[0]) {
						p.funcs[d.fn], changed = true, true
					}
				}
				return !p.funcs[d.fn]
			})
		}
	}
	for _, d := range decls {
		if p.funcs[d.fn] {
			pass.ExportObjectFact(d.fn, &promhttpFunc{})
		}
	}
	return p
}

// serves reports whether a handler expression is the process's own metrics.
func (p *promhttp) serves(h ast.Expr) bool {
	if h == nil {
		return false
	}
	info := p.pass.TypesInfo
	if isPromhttpCall(info, h) {
		return true
	}
	switch e := ast.Unparen(h).(type) {
	case *ast.Ident, *ast.SelectorExpr:
		if obj := objectOf(info, e); obj != nil {
			return p.vars[obj]
		}
	case *ast.CallExpr:
		if fn := callee(info, e); fn != nil {
			if p.funcs[fn] {
				return true
			}
			var f promhttpFunc
			if fn.Pkg() != p.pass.Pkg && sameProgram(p.pass, fn.Pkg()) && p.pass.ImportObjectFact(fn, &f) {
				return true
			}
		}
		// A wrapper around promhttp's handler: still the process's metrics.
		for _, a := range e.Args {
			if p.serves(a) {
				return true
			}
		}
	}
	return false
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
