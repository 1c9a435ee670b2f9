package choices

import (
	"fmt"
	"iter"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Kinds of Origin: where a choice came from.
const (
	FromDefault = "default"
	FromFile    = "file"
	// FromFlag is a command-line flag of the CLI, or an argument of the
	// module's functions.
	FromFlag = "flag"
)

// Origin is where one effective choice came from: its kind and, for a
// file or a flag, the place (go-image.yaml:4:12, --max-size).
type Origin struct {
	Kind  string `json:"kind"`
	Where string `json:"where,omitempty"`
}

func (o Origin) String() string {
	if o.Where == "" {
		return o.Kind
	}
	return o.Kind + " " + o.Where
}

// Layer is one source of choices: the defaults, a policy file (or one
// binary's section of it), the flags. Origin says where the choice at a
// field was made; the field is named as Error.Field names it, a map's
// key appended (gates.skip.harden/no-setuid).
type Layer struct {
	Choices Choices
	Origin  func(field string) Origin
}

// DefaultLayer is Default() as the bottom layer.
func DefaultLayer() Layer {
	return Layer{Choices: Default(), Origin: func(string) Origin { return Origin{Kind: FromDefault} }}
}

// Origins are where each effective choice came from, by field.
type Origins map[string]Origin

// Of is the origin of the choice at field, or of the closest enclosing
// choice recorded (gates.smoke for a combination of smoke choices);
// default when none is.
func (o Origins) Of(field string) Origin {
	for f := range Enclosing(field) {
		if got, ok := o[f]; ok {
			return got
		}
	}
	return Origin{Kind: FromDefault}
}

// Enclosing is field, then each choice that encloses it, innermost
// first: gates.skip.harden/no-setuid, gates.skip, gates.
func Enclosing(field string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for f := field; f != ""; {
			if !yield(f) {
				return
			}
			i := strings.LastIndex(f, ".")
			if i < 0 {
				return
			}
			f = f[:i]
		}
	}
}

// Resolve overlays the layers, later over earlier, as Overlay does, and
// records for every choice the layer that made it last.
func Resolve(layers ...Layer) (Choices, Origins) {
	cs := make([]Choices, len(layers))
	origins := Origins{}
	for i, l := range layers {
		cs[i] = l.Choices
		walk(reflect.ValueOf(l.Choices), "", func(field string, _ reflect.Value) {
			origins[field] = l.Origin(field)
		})
	}
	return Overlay(cs...), origins
}

// walk calls visit for every choice made in v (a Choices or a part of
// it): each non-nil pointer and slice, and each key of a non-nil map.
func walk(v reflect.Value, prefix string, visit func(field string, v reflect.Value)) {
	for i := range v.NumField() {
		f, name := v.Field(i), prefix+jsonName(v.Type().Field(i))
		switch f.Kind() {
		case reflect.Struct:
			walk(f, name+".", visit)
		case reflect.Map:
			if f.IsNil() {
				continue
			}
			keys := f.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
			for _, k := range keys {
				visit(name+"."+k.String(), f.MapIndex(k))
			}
		default:
			if !f.IsNil() {
				visit(name, f)
			}
		}
	}
}

// Setting is one effective choice as `go-image config` and the reports
// show it: its field, its value in the policy file's words, and where it
// came from.
type Setting struct {
	Field string `json:"field"`
	Value string `json:"value"`
	From  Origin `json:"from"`
}

// Settings are the choices made in c (every one, for the Resolve of a
// default layer and more), in field order, each with its origin.
func (c Choices) Settings(o Origins) []Setting {
	var out []Setting
	walk(reflect.ValueOf(c), "", func(field string, v reflect.Value) {
		out = append(out, Setting{Field: field, Value: render(v), From: o.Of(field)})
	})
	return out
}

// render is a choice's value as a policy file would write it.
func render(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = render(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		// A map's entries are settings of their own; not reached.
		return fmt.Sprint(slices.Sorted(maps.Keys(v.Interface().(map[string]string))))
	}
	return fmt.Sprint(v.Interface())
}
