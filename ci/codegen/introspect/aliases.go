package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	gql "github.com/vektah/gqlparser/v2/ast"
)

// SourceAliases reads the enum value aliases a Dagger release declares in
// its Go source (core/*.go), calls of the form
//
//	ImageLayerCompressions.AliasView("GZIP", "Gzip", enumView)
//	SomeEnum.Alias("NEW", "Old")
//
// as alias name → underlying value. Releases before the SDL printed
// @enumValue on alias values (v0.19) list an alias in schema.graphqls as a
// plain enum value, while the engine's introspection reports it with
// @enumValue(value: "<underlying>"); codegen needs that to give both names
// one Go constant.
func SourceAliases(daggerSrc string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(daggerSrc, "core", "*.go"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s/core: want the github.com/dagger/dagger source of the release", daggerSrc)
	}
	aliases := map[string]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "AliasView" && sel.Sel.Name != "Alias") {
				return true
			}
			alias, ok1 := stringLit(call.Args[0])
			target, ok2 := stringLit(call.Args[1])
			if ok1 && ok2 {
				aliases[alias] = target
			}
			return true
		})
	}
	return aliases, nil
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// applyAliases adds @enumValue(value: target) to every enum value that is a
// known alias of another value of the same enum and has no @enumValue yet.
// It returns the aliased values, "Enum.ALIAS", sorted.
func applyAliases(schema *gql.Schema, aliases map[string]string) []string {
	var applied []string
	for _, def := range schema.Types {
		if def.Kind != gql.Enum {
			continue
		}
		names := map[string]bool{}
		for _, v := range def.EnumValues {
			names[v.Name] = true
		}
		for _, v := range def.EnumValues {
			target, ok := aliases[v.Name]
			if !ok || !names[target] || v.Directives.ForName("enumValue") != nil {
				continue
			}
			v.Directives = append(v.Directives, &gql.Directive{Name: "enumValue", Arguments: gql.ArgumentList{
				{Name: "value", Value: &gql.Value{Kind: gql.StringValue, Raw: target}},
			}})
			applied = append(applied, def.Name+"."+v.Name)
		}
	}
	sort.Strings(applied)
	return applied
}
