// Package config reads go-image.yaml, the policy file a team commits next
// to its code (as .ko.yaml, .goreleaser.yaml and .golangci.yml are), so
// that a laptop, CI and the admission policy apply the same recipe and the
// same gates. It holds choices.Choices in the user's words, plus overrides
// per binary under the binary's name:
//
//	# yaml-language-server: $schema=https://…/go-image.schema.json
//	recipe:
//	  main: [./cmd/...]
//	  ldflags: ["-X main.commit={{.Revision}}"]
//	gates:
//	  maxSize: 20MB
//	  skip: {harden/no-setuid: "the base ships ping"}
//	binaries:
//	  ctl:
//	    gates:
//	      off: {smoke: "a command-line tool, not a service"}
//
// The file is read strictly and treated as hostile input: an unknown key,
// a wrong type, a skip without a reason, a size such as 25M, a duplicate
// key, an anchor or alias (a YAML bomb needs them), a tag, a control
// character, more than MaxSize bytes or several documents is an error that
// names the line and the column. Both executors read it through Parse.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/safetext"
)

// yamlLine is the line a YAML syntax error names.
var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// FileName is the policy file both executors look for at the source root.
const FileName = "go-image.yaml"

// MaxSize bounds the file: a policy of a hundred binaries is a few kB.
const MaxSize = 256 << 10

// File is a parsed policy file.
type File struct {
	// Recipe is how every binary is built.
	Recipe choices.Recipe `json:"recipe,omitzero"`
	// Gates is how every image is gated.
	Gates choices.Gates `json:"gates,omitzero"`
	// Binaries are per-binary overrides, by binary name (the main
	// package's directory): they win over the file's top level.
	Binaries map[string]choices.Choices `json:"binaries,omitempty"`

	// Path is the name the file was read by; Digest is its SHA-256, which
	// a release's provenance records.
	Path   string `json:"-"`
	Digest string `json:"-"`
	// pos is where each choice of the file was written, by field
	// (binaries.<name>.gates.maxSize for a binary's).
	pos map[string]Pos
}

// Pos is a place in the file, 1-based.
type Pos struct{ Line, Column int }

// Error is a bad policy file: where, which choice, and why.
type Error struct {
	Path  string
	Pos   Pos
	Field string
	Err   error
}

func (e *Error) Error() string {
	where := e.Path
	switch {
	case e.Pos.Column > 0:
		where = fmt.Sprintf("%s:%d:%d", e.Path, e.Pos.Line, e.Pos.Column)
	case e.Pos.Line > 0:
		where = fmt.Sprintf("%s:%d", e.Path, e.Pos.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %v", where, e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v", where, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Read reads at most MaxSize bytes of r and parses them.
func Read(path string, r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	return Parse(path, data)
}

// Parse parses and validates the file's contents: every choice of the top
// level, and of each binary over the top level, must validate
// (choices.Choices.Validate). path names the file in errors.
func Parse(path string, data []byte) (*File, error) {
	f := &File{Path: path, pos: map[string]Pos{}}
	sum := sha256.Sum256(data)
	f.Digest = "sha256:" + hex.EncodeToString(sum[:])
	fail := func(p Pos, field string, err error) (*File, error) {
		return nil, &Error{Path: path, Pos: p, Field: field, Err: err}
	}
	if len(data) > MaxSize {
		return fail(Pos{}, "", fmt.Errorf("%d bytes or more, at most %d: a policy file is a few kB; is this the right file?", len(data), MaxSize))
	}
	if !utf8.Valid(data) {
		i := bytes.IndexFunc(data, func(r rune) bool { return r == utf8.RuneError })
		return fail(Pos{Line: bytes.Count(data[:max(i, 0)], []byte("\n")) + 1}, "", errors.New("not UTF-8 text"))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return f, nil // an empty file chooses nothing
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		var p Pos
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		return fail(p, "", fmt.Errorf("not YAML: %s", msg))
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		return fail(Pos{Line: more.Line, Column: more.Column}, "", errors.New("a second YAML document: the policy file is one document"))
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return f, nil // comments only
	}
	d := decoder{f: f}
	if err := d.decode(root, reflect.ValueOf(f).Elem(), ""); err != nil {
		return nil, err
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// decoder fills a File from the YAML tree, recording positions.
type decoder struct{ f *File }

func (d decoder) fail(n *yaml.Node, field string, format string, args ...any) error {
	return &Error{Path: d.f.Path, Pos: Pos{Line: n.Line, Column: n.Column}, Field: field, Err: fmt.Errorf(format, args...)}
}

// check refuses what no field of the file needs and an attacker does:
// anchors, aliases (billion laughs), merge keys, explicit tags, and
// control or invisible characters in any scalar.
func (d decoder) check(n *yaml.Node, field string) error {
	switch {
	case n.Kind == yaml.AliasNode:
		return d.fail(n, field, "an alias (*%s): go-image.yaml takes no anchors or aliases; write the value out", n.Value)
	case n.Anchor != "":
		return d.fail(n, field, "an anchor (&%s): go-image.yaml takes no anchors or aliases; write the value out", n.Anchor)
	case n.Tag != "" && n.Style&yaml.TaggedStyle != 0:
		return d.fail(n, field, "an explicit tag (%s): go-image.yaml takes plain values", n.Tag)
	}
	return nil
}

// text refuses a control or invisible character in a scalar go-image
// reads (a key or a value), quoting at most the start of it: the file
// may be the wrong one, and an error must not print it whole.
func (d decoder) text(n *yaml.Node, field string) error {
	i := safetext.Index(n.Value)
	if i < 0 {
		return nil
	}
	r, _ := utf8.DecodeRuneInString(n.Value[i:])
	quoted := n.Value
	if len(quoted) > 40 {
		quoted = quoted[:40] + "…"
	}
	if r == '\n' {
		return d.fail(n, field, "a line break in %q: write the value on one line", safetext.Line(quoted))
	}
	return d.fail(n, field, "control or invisible character %U in %q: remove it", r, safetext.Line(quoted))
}

// decode fills v (a struct, map, slice or pointer of the File) from n.
func (d decoder) decode(n *yaml.Node, v reflect.Value, field string) error {
	if err := d.check(n, field); err != nil {
		return err
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return d.fail(n, field, "no value: give one, or leave the key out")
	}
	t := v.Type()
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return d.fail(n, field, "want a mapping of %s", keysOf(t))
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if err := d.key(k, field, seen); err != nil {
				return err
			}
			sf, ok := fieldByName(t, k.Value)
			sub := join(field, k.Value)
			if !ok {
				return d.fail(k, sub, "unknown key%s; %s", suggest(t, k.Value), keysOf(t))
			}
			if sf.Type.Kind() == reflect.Struct {
				d.f.pos[sub] = Pos{k.Line, k.Column}
			}
			if err := d.decode(val, v.FieldByIndex(sf.Index), sub); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return d.fail(n, field, "want a mapping (key: value)")
		}
		d.f.pos[field] = Pos{n.Line, n.Column}
		m := reflect.MakeMap(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if err := d.key(k, field, seen); err != nil {
				return err
			}
			e := reflect.New(t.Elem()).Elem()
			if err := d.decode(val, e, join(field, k.Value)); err != nil {
				return err
			}
			if t.Elem().Kind() == reflect.String {
				d.f.pos[join(field, k.Value)] = Pos{val.Line, val.Column}
			} else {
				d.f.pos[join(field, k.Value)] = Pos{k.Line, k.Column} // a binary's section
			}
			m.SetMapIndex(reflect.ValueOf(k.Value), e)
		}
		v.Set(m)
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.fail(n, field, "want a list, e.g. [%s]", exampleOf(field))
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, e := range n.Content {
			if err := d.decode(e, s.Index(i), fmt.Sprintf("%s[%d]", field, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		d.f.pos[field] = Pos{n.Line, n.Column}
		return nil
	case reflect.Pointer:
		e := reflect.New(t.Elem())
		if err := d.decode(n, e.Elem(), field); err != nil {
			return err
		}
		v.Set(e)
		d.f.pos[field] = Pos{n.Line, n.Column}
		return nil
	}
	return d.scalar(n, v, field)
}

// scalar fills a string, integer or boolean: YAML's own type must match,
// so a version written 1.10 (a float, 1.1 once read) or a yes for true
// is an error that says how to write it.
func (d decoder) scalar(n *yaml.Node, v reflect.Value, field string) error {
	if n.Kind != yaml.ScalarNode {
		return d.fail(n, field, "want a %s, not a %s", kindName(v.Kind()), nodeKind(n))
	}
	if err := d.text(n, field); err != nil {
		return err
	}
	tag := n.ShortTag()
	switch v.Kind() {
	case reflect.String:
		if tag != "!!str" {
			return d.fail(n, field, "want a string, not %s %s: quote it, \"%s\"", article(tag), tagName(tag), safetext.Line(short(n.Value)))
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if tag != "!!bool" {
			return d.fail(n, field, "want true or false, not %q", safetext.Line(short(n.Value)))
		}
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			return d.fail(n, field, "want true or false, not %q", n.Value)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		if tag != "!!int" {
			return d.fail(n, field, "want an integer, not %q", safetext.Line(short(n.Value)))
		}
		var i int64
		if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
			return d.fail(n, field, "integer %s out of range", n.Value)
		}
		v.SetInt(i)
	default:
		return d.fail(n, field, "go-image cannot read a %s here", v.Kind())
	}
	return nil
}

// key checks a mapping key: a plain string, given once.
func (d decoder) key(k *yaml.Node, field string, seen map[string]bool) error {
	if err := d.check(k, field); err != nil {
		return err
	}
	if err := d.text(k, field); err != nil {
		return err
	}
	if k.ShortTag() == "!!merge" {
		return d.fail(k, field, "a merge key (<<): go-image.yaml takes no anchors, aliases or merges; write the keys out")
	}
	if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || k.Value == "" {
		return d.fail(k, field, "a key must be a non-empty string, not %q", safetext.Line(short(k.Value)))
	}
	if seen[k.Value] {
		return d.fail(k, join(field, k.Value), "given twice: keep one")
	}
	seen[k.Value] = true
	return nil
}

// validate checks the choices of the top level, then of each binary over
// the top level, and locates a bad one.
func (f *File) validate() error {
	top := choices.Choices{Recipe: f.Recipe, Gates: f.Gates}
	if err := top.Validate(); err != nil {
		return f.locate(err, "")
	}
	if err := f.checkPaths("", top); err != nil {
		return err
	}
	for _, name := range f.BinaryNames() {
		b := f.Binaries[name]
		prefix := "binaries." + name + "."
		if !binaryName(name) {
			return f.errAt("binaries."+name, fmt.Errorf("binary name %q: a binary is named after its main package's directory: letters, digits, '.', '_' or '-'", name))
		}
		if b.Recipe.Main != nil {
			return f.errAt(prefix+"recipe.main", errors.New("a binary is its main package: list main packages at the top level, recipe.main"))
		}
		if b.Recipe.Name != nil {
			return f.errAt(prefix+"recipe.name", errors.New("a binary is named by its key under binaries: leave recipe.name out"))
		}
		if err := f.checkPaths(prefix, b); err != nil {
			return err
		}
		if err := choices.Overlay(top, b).Validate(); err != nil {
			var ce *choices.Error
			if errors.As(err, &ce) && f.has(prefix+ce.Field) {
				return f.locate(err, prefix)
			}
			return f.locate(err, "")
		}
	}
	return nil
}

// checkPaths keeps the files the policy names inside the source: a
// policy file comes with the code under review, and an ignore file of
// /etc/shadow or ../../.netrc would have go-image read it, and quote it in
// an error, on the CI machine.
func (f *File) checkPaths(prefix string, c choices.Choices) error {
	if p := c.Gates.Scan.IgnoreFile; p != nil && (!filepath.IsLocal(filepath.FromSlash(*p)) || strings.Contains(*p, "\\")) {
		return f.errAt(prefix+"gates.scan.ignoreFile", fmt.Errorf("ignore file %q: must be a path inside the source, relative to its root, e.g. .trivyignore", *p))
	}
	return nil
}

// locate turns a choices.Error into an Error at the choice's place in
// the file (prefix selects a binary's section).
func (f *File) locate(err error, prefix string) error {
	var ce *choices.Error
	if !errors.As(err, &ce) {
		return &Error{Path: f.Path, Err: err}
	}
	return f.errAt(prefix+ce.Field, ce.Err)
}

func (f *File) errAt(field string, err error) error {
	return &Error{Path: f.Path, Pos: f.Position(field), Field: field, Err: err}
}

// has says whether the file sets the choice at field, or a part of it
// (gates.smoke for a choice of gates.smoke.probePort).
func (f *File) has(field string) bool {
	for k := range f.pos {
		if k == field || strings.HasPrefix(k, field+".") {
			return true
		}
	}
	return false
}

// Position is where the choice at field was written: the closest
// enclosing choice the file sets when field itself is not one of them
// (a map key's section), else nothing.
func (f *File) Position(field string) Pos {
	for p := range choices.Enclosing(field) {
		if pos, ok := f.pos[p]; ok {
			return pos
		}
	}
	return Pos{}
}

// BinaryNames are the names the file has overrides for, sorted.
func (f *File) BinaryNames() []string {
	names := make([]string, 0, len(f.Binaries))
	for n := range f.Binaries {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Layer is the file's top level as a layer of choices, each choice's
// origin its line and column.
func (f *File) Layer() choices.Layer {
	return f.layer(choices.Choices{Recipe: f.Recipe, Gates: f.Gates}, "")
}

// BinaryLayer is the overrides for the binary name ("" when none).
func (f *File) BinaryLayer(name string) choices.Layer {
	return f.layer(f.Binaries[name], "binaries."+name+".")
}

func (f *File) layer(c choices.Choices, prefix string) choices.Layer {
	return choices.Layer{Choices: c, Origin: func(field string) choices.Origin {
		p := f.Position(prefix + field)
		where := fmt.Sprintf("%s:%d:%d", f.Path, p.Line, p.Column)
		if prefix != "" {
			// A binary's section is keyed by a name the source chooses
			// (its directory): the report, signed, says a choice came
			// from it without the file at hand.
			where += ", section " + strings.TrimSuffix(prefix, ".")
		}
		return choices.Origin{Kind: choices.FromFile, Where: where}
	}}
}

// CheckBinaries refuses overrides for a binary the call does not build:
// a typo must not leave a binary with the policy it was meant to escape.
func (f *File) CheckBinaries(built []string) error {
	for _, name := range f.BinaryNames() {
		if !slices.Contains(built, name) {
			return f.errAt("binaries."+name, fmt.Errorf("no main package of this call builds a binary named %s (it builds %s): fix the name, or the main packages", name, strings.Join(built, ", ")))
		}
	}
	return nil
}

// Locate places err, a bad effective choice of binary name, in the file
// when the file made that choice: the binary's section, else the top
// level. It returns nil when the file did not make it.
func (f *File) Locate(err error, binary string) error {
	var ce *choices.Error
	if f == nil || !errors.As(err, &ce) {
		return nil
	}
	for _, prefix := range []string{"binaries." + binary + ".", ""} {
		if f.has(prefix + ce.Field) {
			return f.errAt(prefix+ce.Field, ce.Err)
		}
	}
	return nil
}

// short is the start of a value an error quotes.
func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// fieldByName is t's field with JSON name key.
func fieldByName(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == key && name != "-" {
			return sf, true
		}
	}
	return reflect.StructField{}, false
}

func keyNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "-" && name != "" {
			out = append(out, name)
		}
	}
	return out
}

func keysOf(t reflect.Type) string { return "known keys: " + strings.Join(keyNames(t), ", ") }

// suggest names the known key a misspelt one meant, by case.
func suggest(t reflect.Type, key string) string {
	for _, k := range keyNames(t) {
		if strings.EqualFold(k, key) || strings.EqualFold(strings.ReplaceAll(k, "_", ""), strings.ReplaceAll(strings.ReplaceAll(key, "_", ""), "-", "")) {
			return fmt.Sprintf(" (did you mean %s?)", k)
		}
	}
	return ""
}

func exampleOf(field string) string {
	switch {
	case strings.HasSuffix(field, "main"):
		return "./cmd/api"
	case strings.HasSuffix(field, "platforms"):
		return "linux/amd64, linux/arm64"
	}
	return "a, b"
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "integer"
	}
	return "string"
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func tagName(tag string) string {
	switch tag {
	case "!!int":
		return "integer"
	case "!!float":
		return "number"
	case "!!bool":
		return "boolean"
	case "!!timestamp":
		return "date"
	}
	return strings.TrimPrefix(tag, "!!")
}

func article(tag string) string {
	if tag == "!!int" {
		return "an"
	}
	return "a"
}

// binaryName is recipe's rule for a binary name.
func binaryName(s string) bool {
	_, err := recipe.Options{Name: s}.Normalize()
	return err == nil
}
