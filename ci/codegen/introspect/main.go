// Command introspect turns Dagger's core API schema, as published in SDL form
// (docs/docs-graphql/schema.graphqls of github.com/dagger/dagger), into the
// introspection JSON that `codegen generate-module --introspection-json-path`
// reads:
//
//	{"__schema": <introspection schema>, "__schemaVersion": "<version>"}
//
// A Dagger engine normally produces that JSON by running codegen's
// introspection query (cmd/codegen/introspection/introspection.graphql). This
// program mirrors what the engine's resolvers (dagql/introspection/types.go)
// answer to that query, without an engine:
//
//   - types sorted by name; names starting with "_" (the __Schema family) are
//     dropped, as the engine's own cmd/introspect does;
//   - every field, argument, input field and enum value is kept, deprecated
//     ones included (the query asks includeDeprecated: true); "@internal"
//     arguments are hidden;
//   - Dagger's directive applications (@expectedType, @enumValue,
//     @experimental, @deprecated, @sourceMap, ...) are reported on types,
//     fields, arguments, input fields and enum values, sorted by name, each
//     argument value in GraphQL literal form (`"Container"`, `42`), which
//     codegen decodes as JSON;
//   - deprecationReason is the raw reason ("No longer supported" for a field
//     deprecated without one), defaultValue a GraphQL literal;
//   - schema directives: those the SDL defines plus the built-in @deprecated;
//   - the built-in scalars (which the SDL leaves out) carry the engine's
//     descriptions;
//   - for a schema version before v0.22.0, the legacy per-type ID surface that
//     the engine serves to modules pinned to such a version (the SDL is
//     printed without it): a scalar FooID and a Query field
//     loadFooFromID(id: FooID!): Foo! for every type with an ID
//     (core/schema/legacy_id.go).
//
// The SDL printer that wrote schema.graphqls (cmd/introspect/schema.go) wraps
// description lines longer than about 120 columns; -unwrap (on by default)
// undoes that wrapping so that the generated doc comments match those of an
// engine-generated client.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"golang.org/x/mod/semver"
)

func main() {
	schemaPath := flag.String("schema", "", "path to Dagger's schema.graphqls (docs/docs-graphql/schema.graphqls)")
	version := flag.String("version", "", `value of "__schemaVersion", e.g. v0.21.8`)
	out := flag.String("o", "-", "output file (- for stdout)")
	unwrap := flag.Bool("unwrap", true, "undo the SDL printer's wrapping of long description lines")
	aliasesFrom := flag.String("aliases-from", "", "github.com/dagger/dagger source of the release: mark its enum value aliases (core/*.go AliasView calls) with @enumValue, which schema.graphqls of v0.19 leaves out")
	flag.Parse()
	if *schemaPath == "" || *version == "" {
		fmt.Fprintln(os.Stderr, "usage: introspect -schema schema.graphqls -version vX.Y.Z [-o intro.json]")
		os.Exit(2)
	}
	var aliases map[string]string
	if *aliasesFrom != "" {
		var err error
		if aliases, err = SourceAliases(*aliasesFrom); err != nil {
			fmt.Fprintln(os.Stderr, "introspect:", err)
			os.Exit(1)
		}
	}
	if err := run(*schemaPath, *version, *out, *unwrap, aliases); err != nil {
		fmt.Fprintln(os.Stderr, "introspect:", err)
		os.Exit(1)
	}
}

func run(schemaPath, version, out string, unwrap bool, aliases map[string]string) error {
	src, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	resp, err := Introspect(string(src), schemaPath, version, unwrap, aliases)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(resp, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if out == "-" {
		_, err = os.Stdout.Write(data)
		return err
	}
	return os.WriteFile(out, data, 0o644)
}

// Introspect parses an SDL document and returns the introspection response.
// aliases (see SourceAliases) may be nil.
func Introspect(sdl, name, version string, unwrap bool, aliases map[string]string) (*Response, error) {
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: name, Input: sdl})
	if gerr != nil {
		return nil, fmt.Errorf("load schema: %w", gerr)
	}
	if schema.Query == nil {
		return nil, fmt.Errorf("schema has no Query type")
	}
	engineBuiltins(schema)
	applyAliases(schema, aliases)
	if legacyIDView(version) {
		addLegacyIDs(schema)
	}
	b := &builder{schema: schema, unwrap: unwrap}
	return b.response(version)
}

// The JSON shapes below follow cmd/codegen/introspection/introspection.go and
// the fields selected by cmd/codegen/introspection/introspection.graphql.

type Response struct {
	Schema        *Schema `json:"__schema"`
	SchemaVersion string  `json:"__schemaVersion"`
}

type NamedRef struct {
	Name string `json:"name"`
}

type Schema struct {
	QueryType        NamedRef        `json:"queryType"`
	MutationType     *NamedRef       `json:"mutationType"`
	SubscriptionType *NamedRef       `json:"subscriptionType"`
	Types            []*Type         `json:"types"`
	Directives       []*DirectiveDef `json:"directives"`
}

type DirectiveDef struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Locations   []string      `json:"locations"`
	Args        []*InputValue `json:"args"`
}

type Type struct {
	Kind          string        `json:"kind"`
	Name          string        `json:"name"`
	Description   string        `json:"description"`
	Fields        []*Field      `json:"fields"`
	InputFields   []*InputValue `json:"inputFields"`
	Interfaces    []*TypeRef    `json:"interfaces"`
	EnumValues    []*EnumValue  `json:"enumValues"`
	PossibleTypes []*TypeRef    `json:"possibleTypes"`
	Directives    []*Directive  `json:"directives"`
}

type Field struct {
	Name              string        `json:"name"`
	Description       string        `json:"description"`
	Args              []*InputValue `json:"args"`
	Type              *TypeRef      `json:"type"`
	IsDeprecated      bool          `json:"isDeprecated"`
	DeprecationReason *string       `json:"deprecationReason"`
	Directives        []*Directive  `json:"directives"`
}

type InputValue struct {
	Name              string       `json:"name"`
	Description       string       `json:"description"`
	Type              *TypeRef     `json:"type"`
	DefaultValue      *string      `json:"defaultValue"`
	IsDeprecated      bool         `json:"isDeprecated"`
	DeprecationReason *string      `json:"deprecationReason"`
	Directives        []*Directive `json:"directives"`
}

type EnumValue struct {
	Name              string       `json:"name"`
	Description       string       `json:"description"`
	IsDeprecated      bool         `json:"isDeprecated"`
	DeprecationReason *string      `json:"deprecationReason"`
	Directives        []*Directive `json:"directives"`
}

type TypeRef struct {
	Kind   string   `json:"kind"`
	Name   *string  `json:"name"`
	OfType *TypeRef `json:"ofType"`
}

type Directive struct {
	Name string          `json:"name"`
	Args []*DirectiveArg `json:"args"`
}

type DirectiveArg struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
}

type builder struct {
	schema *ast.Schema
	unwrap bool
}

func (b *builder) response(version string) (*Response, error) {
	s := &Schema{
		QueryType:  NamedRef{Name: b.schema.Query.Name},
		Types:      []*Type{},
		Directives: []*DirectiveDef{},
	}
	if b.schema.Mutation != nil {
		s.MutationType = &NamedRef{Name: b.schema.Mutation.Name}
	}
	if b.schema.Subscription != nil {
		s.SubscriptionType = &NamedRef{Name: b.schema.Subscription.Name}
	}

	names := make([]string, 0, len(b.schema.Types))
	for n := range b.schema.Types {
		if strings.HasPrefix(n, "_") {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t, err := b.fullType(b.schema.Types[n])
		if err != nil {
			return nil, err
		}
		s.Types = append(s.Types, t)
	}

	dnames := make([]string, 0, len(b.schema.Directives))
	for n, d := range b.schema.Directives {
		// The engine serves the directives of its own schema plus @deprecated,
		// not the other GraphQL built-ins (@include, @skip, @specifiedBy, ...).
		if d.Position != nil && d.Position.Src != nil && d.Position.Src.BuiltIn && n != "deprecated" {
			continue
		}
		dnames = append(dnames, n)
	}
	sort.Strings(dnames)
	for _, n := range dnames {
		d := b.schema.Directives[n]
		def := &DirectiveDef{
			Name:        d.Name,
			Description: b.desc(d.Description, 0),
			Locations:   []string{},
			Args:        []*InputValue{},
		}
		for _, loc := range d.Locations {
			def.Locations = append(def.Locations, string(loc))
		}
		args, err := b.args(d.Arguments, 2)
		if err != nil {
			return nil, fmt.Errorf("directive @%s: %w", d.Name, err)
		}
		def.Args = args
		s.Directives = append(s.Directives, def)
	}

	return &Response{Schema: s, SchemaVersion: version}, nil
}

func (b *builder) fullType(def *ast.Definition) (*Type, error) {
	t := &Type{
		Kind:          string(def.Kind),
		Name:          def.Name,
		Description:   b.desc(def.Description, 0),
		Fields:        []*Field{},
		InputFields:   []*InputValue{},
		Interfaces:    []*TypeRef{},
		EnumValues:    []*EnumValue{},
		PossibleTypes: []*TypeRef{},
		Directives:    directives(def.Directives),
	}

	switch def.Kind {
	case ast.Object, ast.Interface:
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "_") {
				continue
			}
			args, err := b.args(f.Arguments, 4)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", def.Name, f.Name, err)
			}
			typ, err := b.typeRef(f.Type)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", def.Name, f.Name, err)
			}
			field := &Field{
				Name:        f.Name,
				Description: b.desc(f.Description, 2),
				Args:        args,
				Type:        typ,
				Directives:  directives(f.Directives),
			}
			if dep := f.Directives.ForName("deprecated"); dep != nil {
				field.IsDeprecated = true
				reason := "No longer supported"
				if r := dep.Arguments.ForName("reason"); r != nil && r.Value != nil {
					reason = r.Value.Raw
				}
				field.DeprecationReason = &reason
			}
			t.Fields = append(t.Fields, field)
		}
		for _, iface := range def.Interfaces {
			t.Interfaces = append(t.Interfaces, b.namedRef(iface))
		}
	case ast.InputObject:
		for _, f := range def.Fields {
			iv, err := b.inputValue(f.Name, f.Description, 2, f.Type, f.DefaultValue, f.Directives)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", def.Name, f.Name, err)
			}
			t.InputFields = append(t.InputFields, iv)
		}
	case ast.Enum:
		for _, v := range def.EnumValues {
			ev := &EnumValue{
				Name:        v.Name,
				Description: b.desc(v.Description, 2),
				Directives:  directives(v.Directives),
			}
			ev.IsDeprecated, ev.DeprecationReason = deprecation(v.Directives)
			t.EnumValues = append(t.EnumValues, ev)
		}
	}

	if def.Kind == ast.Interface || def.Kind == ast.Union {
		for _, pt := range b.schema.GetPossibleTypes(def) {
			t.PossibleTypes = append(t.PossibleTypes, b.namedRef(pt.Name))
		}
	}
	return t, nil
}

// indent is the indentation the SDL printer used for the descriptions
// (see Unwrap).
func (b *builder) args(list ast.ArgumentDefinitionList, indent int) ([]*InputValue, error) {
	res := []*InputValue{}
	for _, a := range list {
		if a.Directives.ForName("internal") != nil {
			continue
		}
		iv, err := b.inputValue(a.Name, a.Description, indent, a.Type, a.DefaultValue, a.Directives)
		if err != nil {
			return nil, fmt.Errorf("argument %s: %w", a.Name, err)
		}
		res = append(res, iv)
	}
	return res, nil
}

func (b *builder) inputValue(name, desc string, indent int, typ *ast.Type, def *ast.Value, dirs ast.DirectiveList) (*InputValue, error) {
	ref, err := b.typeRef(typ)
	if err != nil {
		return nil, err
	}
	iv := &InputValue{
		Name:        name,
		Description: b.desc(desc, indent),
		Type:        ref,
		Directives:  directives(dirs),
	}
	if def != nil {
		v := def.String()
		iv.DefaultValue = &v
	}
	iv.IsDeprecated, iv.DeprecationReason = deprecation(dirs)
	return iv, nil
}

func deprecation(dirs ast.DirectiveList) (bool, *string) {
	dep := dirs.ForName("deprecated")
	if dep == nil {
		return false, nil
	}
	r := dep.Arguments.ForName("reason")
	if r == nil || r.Value == nil {
		return true, nil
	}
	reason := r.Value.Raw
	return true, &reason
}

func (b *builder) namedRef(name string) *TypeRef {
	def := b.schema.Types[name]
	kind := ""
	if def != nil {
		kind = string(def.Kind)
	}
	return &TypeRef{Kind: kind, Name: &name}
}

func (b *builder) typeRef(t *ast.Type) (*TypeRef, error) {
	if t == nil {
		return nil, nil
	}
	if t.NonNull {
		cp := *t
		cp.NonNull = false
		inner, err := b.typeRef(&cp)
		if err != nil {
			return nil, err
		}
		return &TypeRef{Kind: "NON_NULL", OfType: inner}, nil
	}
	if t.Elem != nil {
		inner, err := b.typeRef(t.Elem)
		if err != nil {
			return nil, err
		}
		return &TypeRef{Kind: "LIST", OfType: inner}, nil
	}
	if _, ok := b.schema.Types[t.NamedType]; !ok {
		return nil, fmt.Errorf("unknown type %q", t.NamedType)
	}
	return b.namedRef(t.NamedType), nil
}

// directives reports directive applications the way the engine does: sorted
// by name, one per name, argument values as GraphQL literals.
func directives(list ast.DirectiveList) []*Directive {
	byName := map[string]*Directive{}
	names := []string{}
	for _, d := range list {
		app := &Directive{Name: d.Name, Args: []*DirectiveArg{}}
		for _, a := range d.Arguments {
			var v *string
			if a.Value != nil {
				s := a.Value.String()
				v = &s
			}
			app.Args = append(app.Args, &DirectiveArg{Name: a.Name, Value: v})
		}
		if _, seen := byName[d.Name]; !seen {
			names = append(names, d.Name)
		}
		byName[d.Name] = app
	}
	sort.Strings(names)
	res := make([]*Directive, 0, len(names))
	for _, n := range names {
		res = append(res, byName[n])
	}
	return res
}

// desc returns a description as the engine would report it; indent is the
// indentation at which the SDL printer wrote it.
func (b *builder) desc(s string, indent int) string {
	if !b.unwrap {
		return s
	}
	return Unwrap(s, printerWidth-indent)
}

// engineBuiltins gives the GraphQL built-in scalars the descriptions that
// Dagger's engine reports for them (dagql/types.go), instead of gqlparser's.
func engineBuiltins(schema *ast.Schema) {
	for name, desc := range map[string]string{
		"Int":     "The `Int` scalar type represents non-fractional signed whole numeric values. Int can represent values between -(2^31) and 2^31 - 1.",
		"Float":   "The `Float` scalar type represents signed double-precision fractional values as specified by [IEEE 754](http://en.wikipedia.org/wiki/IEEE_floating_point).",
		"Boolean": "The `Boolean` scalar type represents `true` or `false`.",
		"String":  "The `String` scalar type represents textual data, represented as UTF-8 character sequences. The String type is most often used by GraphQL to represent free-form human-readable text.",
		"ID":      idDescription,
	} {
		if def := schema.Types[name]; def != nil && def.BuiltIn {
			cp := *def
			cp.Description = desc
			schema.Types[name] = &cp
		}
	}
}

const idDescription = "A unique identifier for an object."

// legacyIDView mirrors core/schema/legacy_id.go: BeforeVersion("v0.22.0").
func legacyIDView(version string) bool {
	return semver.IsValid(version) && semver.Compare(version, "v0.22.0") < 0
}

// addLegacyIDs adds what core/schema/legacy_id.go installs for every
// object with an ID and every interface, except the root Query object and
// the built-in Node interface (installed before that hook): a scalar FooID
// and a Query field loadFooFromID(id: FooID!): Foo!.
func addLegacyIDs(schema *ast.Schema) {
	names := make([]string, 0, len(schema.Types))
	for n := range schema.Types {
		names = append(names, n)
	}
	sort.Strings(names)
	query := schema.Query
	for _, name := range names {
		def := schema.Types[name]
		if strings.HasPrefix(name, "_") || def == query || name == "Node" {
			continue
		}
		if def.Kind != ast.Object && def.Kind != ast.Interface {
			continue
		}
		if def.Kind == ast.Object && def.Fields.ForName("id") == nil {
			continue
		}
		scalar := name + "ID"
		if _, exists := schema.Types[scalar]; exists {
			continue
		}
		schema.Types[scalar] = &ast.Definition{Kind: ast.Scalar, Name: scalar, Description: idDescription}
		field := &ast.FieldDefinition{
			Name:        "load" + name + "FromID",
			Description: "Load a " + name + " from its ID.",
			Arguments: ast.ArgumentDefinitionList{
				{Name: "id", Type: ast.NonNullNamedType(scalar, nil)},
			},
			Type: ast.NonNullNamedType(name, nil),
		}
		if query.Fields.ForName(field.Name) != nil {
			continue
		}
		// the engine reports Query's fields sorted by name (gqlparser appends
		// __schema and __type, which are not reported)
		i := len(query.Fields)
		for k, f := range query.Fields {
			if !strings.HasPrefix(f.Name, "_") && f.Name > field.Name {
				i = k
				break
			}
		}
		query.Fields = append(query.Fields, nil)
		copy(query.Fields[i+1:], query.Fields[i:])
		query.Fields[i] = field
	}
}
