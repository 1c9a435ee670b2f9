package lint

import (
	"go/ast"
	"go/constant"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
)

// HealthMux flags health routes registered on the same ServeMux as business
// routes. Liveness served by the business server fails when that server is
// saturated or draining, and the kubelet then restarts a pod that was only
// busy; probes belong on their own server and port.
var HealthMux = &analysis.Analyzer{
	Name:     "healthmux",
	Doc:      "report /healthz, /livez, /readyz and /health registered on the same http.ServeMux as business routes",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runHealthMux,
}

var healthPaths = map[string]bool{"/healthz": true, "/livez": true, "/readyz": true, "/health": true}

func runHealthMux(pass *analysis.Pass) (any, error) {
	type route struct {
		call *ast.CallExpr
		path string
	}
	type mux struct{ health, business []route }
	muxes := map[any]*mux{}
	var order []any
	inspectorOf(pass).Preorder([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node) {
		call := n.(*ast.CallExpr)
		fn := callee(pass.TypesInfo, call)
		if len(call.Args) == 0 {
			return
		}
		var key any
		switch {
		case isFunc(fn, "net/http", "Handle", "HandleFunc"):
			key = "http.DefaultServeMux"
		case (isMethod(fn, "net/http", "Handle") || isMethod(fn, "net/http", "HandleFunc")) && isNamed(recvType(fn), "net/http", "ServeMux"):
			sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
			if !ok {
				return
			}
			if obj := objectOf(pass.TypesInfo, sel.X); obj != nil {
				key = obj
			} else {
				key = types.ExprString(sel.X)
			}
		default:
			return
		}
		tv := pass.TypesInfo.Types[call.Args[0]]
		if tv.Value == nil || tv.Value.Kind() != constant.String {
			return
		}
		p := routePath(constant.StringVal(tv.Value))
		m := muxes[key]
		if m == nil {
			m = &mux{}
			muxes[key] = m
			order = append(order, key)
		}
		if healthPaths[p] {
			m.health = append(m.health, route{call, p})
		} else {
			m.business = append(m.business, route{call, p})
		}
	})
	for _, k := range order {
		m := muxes[k]
		if len(m.health) == 0 || len(m.business) == 0 {
			continue
		}
		var biz []string
		for _, r := range m.business {
			biz = append(biz, r.path)
		}
		sort.Strings(biz)
		for _, h := range m.health {
			pass.Reportf(h.call.Pos(), "health route %s is registered on the same mux as business routes (%s): when the business server is saturated or draining, liveness fails and the kubelet restarts a busy pod; serve probes from a separate http.Server with its own ServeMux on the probe port (e.g. :8081)", h.path, strings.Join(biz, ", "))
		}
	}
	return nil, nil
}

// routePath returns the path of a ServeMux pattern: "GET example.com/healthz"
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
