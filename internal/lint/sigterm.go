package lint

import (
	"go/ast"
	"go/constant"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
)

// SIGTERM flags services that Kubernetes cannot stop gracefully because
// they never see its SIGTERM:
//   - a signal.Notify or signal.NotifyContext that sets up a shutdown (it
//     catches os.Interrupt or SIGINT, Ctrl-C) but not SIGTERM: the kubelet
//     sends SIGTERM, so that shutdown path never runs in a pod;
//   - a program that serves business HTTP (healthmux's judgement of its
//     routes: a probe, metrics or status server alone is not a service to
//     drain) and handles no signal at all: SIGTERM's default action kills it
//     mid-request, and whatever shutdown code it has never runs.
//
// A dependency's signal helper (controller-runtime's SetupSignalHandler,
// k8s.io/apiserver's SetupSignalContext, sample-controller's signals
// package: any function or variable outside the program whose name says
// Signal, or of a package named for signals) counts as handling SIGTERM,
// and so does a dependency's function given SIGTERM (go-svc's
// svc.Run(prg, syscall.SIGINT, syscall.SIGTERM)). A signal list the
// analyzer cannot read (built at run time) counts too.
var SIGTERM = &analysis.Analyzer{
	Name:      "sigterm",
	Doc:       "report shutdown handlers that never see SIGTERM (signal.Notify or NotifyContext with os.Interrupt or SIGINT but not SIGTERM) and HTTP services that handle no signal at all",
	Requires:  []*analysis.Analyzer{inspect.Analyzer, HealthMux},
	Run:       runSIGTERM,
	FactTypes: []analysis.Fact{new(signalHandling)},
}

// signalHandling is the package fact of what a package does about signals,
// and whether it serves business HTTP: main judges the whole program from
// its own and its imports' facts.
type signalHandling struct {
	// HandlesTERM: some code catches SIGTERM (or every signal).
	HandlesTERM bool
	// Partial: some code sets up a shutdown on signals without SIGTERM
	// (reported where it is).
	Partial bool
	// Serves names a business HTTP server of the package ("" if none).
	Serves string
}

func (*signalHandling) AFact() {}
func (f *signalHandling) String() string {
	return "signalHandling(term=" + boolString(f.HandlesTERM) + ", partial=" + boolString(f.Partial) + ", serves=" + f.Serves + ")"
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

const fixSIGTERM = "ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT); defer stop(); when ctx is done, Shutdown with a context.WithTimeout below terminationGracePeriodSeconds"

func runSIGTERM(pass *analysis.Pass) (any, error) {
	if !inScope(pass) {
		return nil, nil
	}
	info := pass.TypesInfo
	r := newReporter(pass)
	var fact signalHandling
	lists := signalLists(pass)
	inspectorOf(pass).Preorder([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node) {
		call := n.(*ast.CallExpr)
		if isFunc(callee(info, call), "os/signal", "Notify", "NotifyContext") {
			if len(call.Args) == 0 {
				return
			}
			set, known := signalSet(info, lists, call)
			switch {
			case !known || len(set) == 0 || set["TERM"]:
				// Every signal, SIGTERM, or a list we cannot read.
				fact.HandlesTERM = true
			case set["INT"] || set["KILL"]:
				fact.Partial = true
				note := ""
				if set["KILL"] {
					note = " (os.Kill is SIGKILL, which no process can catch)"
				}
				r.reportf(call.Pos(), "%s sets up a shutdown that SIGTERM never triggers%s: Kubernetes stops a pod with SIGTERM, not SIGINT (Ctrl-C), so this shutdown path never runs in a pod and the process is killed mid-request; add syscall.SIGTERM to the signals (%s)", shortCall(call), note, fixSIGTERM)
			}
			return
		}
		if signalHelper(pass, call) || termToDependency(pass, call) {
			fact.HandlesTERM = true
		}
	})
	if res, _ := pass.ResultOf[HealthMux].(*httpServing); res != nil {
		var serves []string
		for _, p := range res.Points {
			if p.Business && len(serves) < 3 {
				serves = append(serves, p.Name+" at "+where(pass.Fset, p.Pos))
			}
		}
		fact.Serves = strings.Join(serves, ", ")
	}
	if fact != (signalHandling{}) {
		pass.ExportPackageFact(&fact)
	}
	if pass.Pkg.Name() != "main" {
		return nil, nil
	}
	// The program: this package and every package it imports.
	term, partial, serves := fact.HandlesTERM, fact.Partial, fact.Serves
	for _, pf := range pass.AllPackageFacts() {
		if f, ok := pf.Fact.(*signalHandling); ok && pf.Package != pass.Pkg {
			term, partial = term || f.HandlesTERM, partial || f.Partial
			if serves == "" && f.Serves != "" {
				serves = f.Serves + " (package " + pf.Package.Name() + ")"
			}
		}
	}
	if term || partial || serves == "" {
		return nil, nil
	}
	for _, f := range pass.Files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "main" && fd.Recv == nil {
				r.reportf(fd.Name.Pos(), "this program serves HTTP (%s) and nothing in it handles SIGTERM: the kubelet's SIGTERM kills it at once (exit status 2 as PID 1), cutting in-flight requests, and no shutdown code runs; %s", serves, fixSIGTERM)
			}
		}
	}
	return nil, nil
}

// shortCall renders signal.Notify(c, os.Interrupt) for a message.
func shortCall(call *ast.CallExpr) string {
	s := types.ExprString(call)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// signalSet returns the signals a Notify or NotifyContext call catches
// ("TERM", "INT", "KILL", "other"), and false when some cannot be read.
func signalSet(info *types.Info, lists map[types.Object][]ast.Expr, call *ast.CallExpr) (map[string]bool, bool) {
	set := map[string]bool{}
	args := call.Args[1:]
	if call.Ellipsis.IsValid() && len(args) == 1 {
		elems, ok := lists[objectOf(info, args[0])]
		if !ok {
			return nil, false
		}
		args = elems
	}
	for _, a := range args {
		s := signalOf(info, a)
		if s == "" {
			return nil, false
		}
		set[s] = true
	}
	return set, true
}

// signalOf names a signal expression: a syscall (or x/sys/unix) constant,
// os.Interrupt, os.Kill, or a conversion of one; "" when unknown.
func signalOf(info *types.Info, e ast.Expr) string {
	e = ast.Unparen(e)
	if tv, ok := info.Types[e]; ok && tv.Value != nil && tv.Value.Kind() == constant.Int {
		v, _ := constant.Int64Val(tv.Value)
		switch v {
		case 15:
			return "TERM"
		case 2:
			return "INT"
		case 9:
			return "KILL"
		}
		return "other"
	}
	if call, ok := e.(*ast.CallExpr); ok && len(call.Args) == 1 {
		if tv, ok := info.Types[call.Fun]; ok && tv.IsType() {
			return signalOf(info, call.Args[0]) // os.Signal(syscall.SIGTERM)
		}
	}
	if v, ok := objectOf(info, e).(*types.Var); ok && v.Pkg() != nil && v.Pkg().Path() == "os" {
		switch v.Name() {
		case "Interrupt":
			return "INT"
		case "Kill":
			return "KILL"
		}
	}
	return ""
}

// signalLists returns the signal slices of the package whose every store
// is a literal ([]os.Signal{os.Interrupt, syscall.SIGTERM}), with their
// elements; a slice stored otherwise is absent (unknown).
func signalLists(pass *analysis.Pass) map[types.Object][]ast.Expr {
	info := pass.TypesInfo
	out := map[types.Object][]ast.Expr{}
	bad := map[types.Object]bool{}
	store := func(obj types.Object, e ast.Expr) {
		if obj == nil {
			return
		}
		if s, ok := obj.Type().Underlying().(*types.Slice); !ok || !isNamed(s.Elem(), "os", "Signal") {
			return
		}
		lit, ok := ast.Unparen(e).(*ast.CompositeLit)
		if !ok {
			bad[obj] = true
			return
		}
		out[obj] = append(out[obj], lit.Elts...)
	}
	inspectorOf(pass).Preorder([]ast.Node{(*ast.AssignStmt)(nil), (*ast.ValueSpec)(nil)}, func(n ast.Node) {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				if obj := objectOf(info, l); obj != nil {
					if len(n.Lhs) == len(n.Rhs) {
						store(obj, n.Rhs[i])
					} else {
						store(obj, nil)
					}
				}
			}
		case *ast.ValueSpec:
			for i, id := range n.Names {
				if i < len(n.Values) {
					store(info.Defs[id], n.Values[i])
				}
			}
		}
	})
	for obj := range bad {
		delete(out, obj)
	}
	return out
}

// signalHelper reports whether a call is a dependency's signal helper:
// a function or function variable outside the program whose name says
// Signal (SetupSignalHandler, SetupSignalContext), or of a package named
// for signals (k8s.io/sample-controller/pkg/signals).
func signalHelper(pass *analysis.Pass, call *ast.CallExpr) bool {
	obj := dependencyFunc(pass, call)
	// A package-level function or function variable.
	if obj == nil || obj.Parent() != obj.Pkg().Scope() {
		return false
	}
	last := obj.Pkg().Path()
	if i := strings.LastIndex(last, "/"); i >= 0 {
		last = last[i+1:]
	}
	return strings.Contains(obj.Name(), "Signal") || strings.Contains(last, "signal")
}

// termToDependency reports whether a call hands SIGTERM to a dependency's
// function or method: a service framework that catches the signals it is
// given, as github.com/judwhite/go-svc's svc.Run(prg, syscall.SIGINT,
// syscall.SIGTERM) does (nsq's daemons).
func termToDependency(pass *analysis.Pass, call *ast.CallExpr) bool {
	if dependencyFunc(pass, call) == nil {
		return false
	}
	for _, a := range call.Args {
		if signalOf(pass.TypesInfo, a) == "TERM" {
			return true
		}
	}
	return false
}

// dependencyFunc is the function, method or function variable a call
// invokes when it belongs to a module outside the program (not the
// standard library: os.Process.Signal and syscall.Kill send signals), or
// nil.
func dependencyFunc(pass *analysis.Pass, call *ast.CallExpr) types.Object {
	var obj types.Object
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		obj = pass.TypesInfo.Uses[f]
	case *ast.SelectorExpr:
		obj = pass.TypesInfo.Uses[f.Sel]
	}
	if obj == nil || obj.Pkg() == nil || sameProgram(pass, obj.Pkg()) {
		return nil
	}
	if first, _, _ := strings.Cut(obj.Pkg().Path(), "/"); !strings.Contains(first, ".") {
		return nil
	}
	if _, ok := obj.Type().Underlying().(*types.Signature); !ok {
		return nil
	}
	return obj
}
