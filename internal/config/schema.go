package config

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strings"

	"dagger/go-image/internal/harden"
	"dagger/go-image/internal/policy"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/upx"
)

// SchemaJSON is the JSON Schema of go-image.yaml, generated from File's
// Go types by GenerateSchema (TestSchemaInSync keeps it so), for editors:
// `# yaml-language-server: $schema=…go-image.schema.json` on the file's
// first line gives completion and checks as it is typed.
//
//go:embed go-image.schema.json
var SchemaJSON []byte

// SchemaID is the schema's $id.
const SchemaID = "https://go-image.dev/schema/go-image.schema.json"

// Enums and patterns the Go types cannot say, by field; a test checks
// each against what Validate accepts.
var (
	enums = map[string][]string{
		"recipe.base": {string(recipe.Scratch), string(recipe.Alpine)},
		"gates.upx":   {string(upx.Deny), string(upx.Warn), string(upx.Allow)},
	}
	// keyEnums are the keys a map accepts.
	keyEnums = map[string][]string{
		"gates.skip": harden.IDs(),
		"gates.off":  policy.Names,
	}
	patterns = map[string]string{
		// size.ParseBytes: a number and a unit; no single-letter unit.
		"gates.maxSize": `^ *[0-9.]+ *([Bb]|[KkMmGg][Ii]?[Bb])? *$`,
	}
	ports = []string{"gates.smoke.businessPort", "gates.smoke.probePort"}
)

// GenerateSchema is the JSON Schema of File, each property described by
// its field's doc comment (docs, by Go type and field name: see
// FieldDocs).
func GenerateSchema(docs map[string]string) ([]byte, error) {
	root := object(reflect.TypeFor[File](), "", docs)
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaID
	root["title"] = "go-image.yaml"
	root["description"] = "go-image's policy file: the recipe and the gates of every binary of the source, with overrides per binary. Flags and With* calls override it."
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// object is the schema of struct type t at field prefix.
func object(t reflect.Type, prefix string, docs map[string]string) map[string]any {
	props := map[string]any{}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" || name == "" {
			continue
		}
		field := join(prefix, name)
		s := schemaOf(sf.Type, field, docs)
		if d := docs[t.Name()+"."+sf.Name]; d != "" {
			s["description"] = d
		}
		props[name] = s
	}
	return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
}

func schemaOf(t reflect.Type, field string, docs map[string]string) map[string]any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		return object(t, field, docs)
	case reflect.Map:
		if t.Elem().Kind() == reflect.Struct {
			// binaries: a binary's section has no main or name of its own.
			s := object(t.Elem(), field+".*", docs)
			props := s["properties"].(map[string]any)
			recipe := props["recipe"].(map[string]any)
			rp := map[string]any{}
			for k, v := range recipe["properties"].(map[string]any) {
				if k != "main" && k != "name" {
					rp[k] = v
				}
			}
			recipe["properties"] = rp
			return map[string]any{"type": "object", "additionalProperties": s,
				"propertyNames": map[string]any{"pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"}}
		}
		s := map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string", "minLength": 1}}
		if keys := keyEnums[strings.TrimPrefix(field, "binaries.*.")]; keys != nil {
			s["propertyNames"] = map[string]any{"enum": keys}
		}
		return s
	case reflect.Slice:
		return map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		s := map[string]any{"type": "integer"}
		if slices.Contains(ports, strings.TrimPrefix(field, "binaries.*.")) {
			s["minimum"], s["maximum"] = 1, 65535
		}
		if field == "recipe.sourceDateEpoch" {
			s["minimum"], s["maximum"] = 0, recipe.MaxSourceDateEpoch
		}
		return s
	}
	s := map[string]any{"type": "string"}
	field = strings.TrimPrefix(field, "binaries.*.") // a binary's choices are the top level's
	if e := enums[field]; e != nil {
		s["enum"] = e
	}
	if p := patterns[field]; p != "" {
		s["pattern"] = p
	}
	return s
}

// FieldDocs reads the doc comments of the struct fields declared in the
// Go files (internal/choices' and this package's), by "Type.Field", one
// line each. A comment shared by several fields on one line (Ldflags
// and Tags) describes them all.
func FieldDocs(files ...string) (map[string]string, error) {
	docs := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("read docs: %w", err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				ts, ok := spec.(*ast.TypeSpec)
				if !ok {
					continue
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				var last string
				for _, fl := range st.Fields.List {
					doc := strings.Join(strings.Fields(fl.Doc.Text()), " ")
					if doc == "" && fl.Doc == nil {
						doc = last // a group of fields under one comment
					} else {
						last = doc
					}
					for _, n := range fl.Names {
						if doc != "" {
							docs[ts.Name.Name+"."+n.Name] = doc
						}
					}
				}
			}
		}
	}
	return docs, nil
}
