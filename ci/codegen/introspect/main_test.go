package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testSDL = `
"""Indicates the expected object or interface type for an ID value."""
directive @expectedType(name: String!) on ARGUMENT_DEFINITION | FIELD_DEFINITION

"""Indicates the underlying value of an enum member."""
directive @enumValue(value: String!) on ENUM_VALUE

directive @experimental(reason: String! = "Not stabilized") on FIELD_DEFINITION | ARGUMENT_DEFINITION

"""A directory."""
type Directory implements Node {
  """A unique identifier for this Directory."""
  id: ID!

  """
  Retrieves this directory plus a directory written at the given path.
  """
  withDirectory(
    """Location of the written directory (e.g., "/src/")."""
    path: String!
    source: ID! @expectedType(name: "Directory")
    keepGitDir: Boolean = true @deprecated(reason: "Set to true to keep .git directory.")
  ): Directory!
  old: String! @deprecated
  newThing(n: Int = 3): Int! @experimental(reason: "not yet")
}

interface Node {
  id: ID!
}

enum ImageMediaTypes {
  OCIMediaTypes @enumValue(value: "OCI")
  OCI @enumValue(value: "OCI")
}

type Query {
  directory: Directory!
  node(id: ID!): Node
}
`

func introspectTest(t *testing.T, version string) *Response {
	t.Helper()
	resp, err := Introspect(testSDL, "test.graphqls", version, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	// round-trip through JSON, as codegen reads it
	data, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var out Response
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func typeNamed(s *Schema, name string) *Type {
	for _, t := range s.Types {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func fieldNamed(t *Type, name string) *Field {
	for _, f := range t.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

func TestIntrospect(t *testing.T) {
	resp := introspectTest(t, "v0.21.8")
	s := resp.Schema
	if resp.SchemaVersion != "v0.21.8" || s.QueryType.Name != "Query" || s.MutationType != nil {
		t.Fatalf("bad header: %+v %+v", resp.SchemaVersion, s.QueryType)
	}
	for i := 1; i < len(s.Types); i++ {
		if s.Types[i-1].Name >= s.Types[i].Name {
			t.Errorf("types not sorted: %s >= %s", s.Types[i-1].Name, s.Types[i].Name)
		}
	}
	for _, typ := range s.Types {
		if strings.HasPrefix(typ.Name, "_") {
			t.Errorf("introspection type %s kept", typ.Name)
		}
	}
	var dirs []string
	for _, d := range s.Directives {
		dirs = append(dirs, d.Name)
	}
	if got := strings.Join(dirs, ","); got != "deprecated,enumValue,expectedType,experimental" {
		t.Errorf("directives = %s", got)
	}
	if id := typeNamed(s, "ID"); id == nil || id.Description != idDescription {
		t.Errorf("ID scalar: %+v", id)
	}

	dir := typeNamed(s, "Directory")
	if len(dir.Interfaces) != 1 || *dir.Interfaces[0].Name != "Node" {
		t.Errorf("interfaces: %+v", dir.Interfaces)
	}
	wd := fieldNamed(dir, "withDirectory")
	if wd.Description != "Retrieves this directory plus a directory written at the given path." {
		t.Errorf("description: %q", wd.Description)
	}
	if ref := wd.Type; ref.Kind != "NON_NULL" || ref.OfType.Kind != "OBJECT" || *ref.OfType.Name != "Directory" {
		t.Errorf("type ref: %+v", ref)
	}
	src := wd.Args[1]
	if len(src.Directives) != 1 || src.Directives[0].Name != "expectedType" || *src.Directives[0].Args[0].Value != `"Directory"` {
		t.Errorf("@expectedType: %+v", src.Directives)
	}
	keep := wd.Args[2]
	if !keep.IsDeprecated || *keep.DeprecationReason != "Set to true to keep .git directory." || *keep.DefaultValue != "true" {
		t.Errorf("deprecated arg: %+v", keep)
	}
	if old := fieldNamed(dir, "old"); !old.IsDeprecated || *old.DeprecationReason != "No longer supported" {
		t.Errorf("deprecated field: %+v", old)
	}
	nt := fieldNamed(dir, "newThing")
	if *nt.Args[0].DefaultValue != "3" || nt.Directives[0].Name != "experimental" || *nt.Directives[0].Args[0].Value != `"not yet"` {
		t.Errorf("newThing: %+v", nt)
	}

	enum := typeNamed(s, "ImageMediaTypes")
	if len(enum.EnumValues) != 2 || *enum.EnumValues[0].Directives[0].Args[0].Value != `"OCI"` {
		t.Errorf("enum: %+v", enum.EnumValues)
	}
	if node := typeNamed(s, "Node"); len(node.PossibleTypes) != 1 || *node.PossibleTypes[0].Name != "Directory" {
		t.Errorf("possible types: %+v", node.PossibleTypes)
	}

	// legacy ID surface of v0.21.x
	if sc := typeNamed(s, "DirectoryID"); sc == nil || sc.Kind != "SCALAR" {
		t.Errorf("no DirectoryID scalar")
	}
	if typeNamed(s, "NodeID") != nil || typeNamed(s, "QueryID") != nil {
		t.Errorf("unexpected NodeID/QueryID")
	}
	var qf []string
	for _, f := range typeNamed(s, "Query").Fields {
		qf = append(qf, f.Name)
	}
	if got := strings.Join(qf, ","); got != "directory,loadDirectoryFromID,node" {
		t.Errorf("Query fields = %s", got)
	}
}

func TestNoLegacyIDsFromV022(t *testing.T) {
	s := introspectTest(t, "v0.22.0").Schema
	if typeNamed(s, "DirectoryID") != nil || fieldNamed(typeNamed(s, "Query"), "loadDirectoryFromID") != nil {
		t.Error("legacy ID surface present for v0.22.0")
	}
}

func TestUnwrap(t *testing.T) {
	long := strings.Repeat("word ", 40) + "end"
	wrapped := strings.Join(breakLine(long, 118), "\n")
	if !strings.Contains(wrapped, "\n") {
		t.Fatal("expected breakLine to wrap")
	}
	if got := Unwrap(wrapped, 118); got != long {
		t.Errorf("Unwrap = %q", got)
	}
	// paragraphs and short hand-broken lines are kept
	hand := "First line.\nSecond line.\n\n" + wrapped
	if got := Unwrap(hand, 118); got != "First line.\nSecond line.\n\n"+long {
		t.Errorf("Unwrap = %q", got)
	}
	// a paragraph wrapped by hand at more than a printer chunk stays as is
	byHand := strings.Repeat("x", 83) + "\n" + strings.Repeat("y ", 39) + "y\n" + strings.Repeat("z ", 30) + "z"
	if got := Unwrap(byHand, 120); got != byHand {
		t.Errorf("Unwrap changed a hand-wrapped paragraph: %q", got)
	}
}

// TestAliases: an enum value the release's source declares as an alias of
// another value of the same enum gets @enumValue(value: <target>), so
// codegen gives both names one constant; a same-named value of an enum
// without the target is left alone.
func TestAliases(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "core"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := `package core
var (
	Gzip = Compressions.Register("Gzip")
	_    = Compressions.AliasView("GZIP", "Gzip", enumView)
	_    = Other.Alias("OCI", "OCIMediaTypes")
)
`
	if err := os.WriteFile(filepath.Join(dir, "core", "enums.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	aliases, err := SourceAliases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if aliases["GZIP"] != "Gzip" || aliases["OCI"] != "OCIMediaTypes" || len(aliases) != 2 {
		t.Fatalf("aliases = %v", aliases)
	}
	sdl := "type Query { c: Compression! m: Other! }\nenum Compression { Gzip GZIP }\nenum Other { OCI DOCKER }\n"
	resp, err := Introspect(sdl, "t.graphqls", "v0.19.10", true, aliases)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ty := range resp.Schema.Types {
		for _, v := range ty.EnumValues {
			val := ""
			for _, d := range v.Directives {
				if d.Name == "enumValue" && len(d.Args) == 1 && d.Args[0].Value != nil {
					val = *d.Args[0].Value
				}
			}
			got[ty.Name+"."+v.Name] = val
		}
	}
	want := map[string]string{"Compression.Gzip": "", "Compression.GZIP": `"Gzip"`, "Other.OCI": "", "Other.DOCKER": ""}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: @enumValue %q, want %q", k, got[k], v)
		}
	}
}
