package choices

import (
	"fmt"
	"reflect"
	"strings"
)

// Overlay lays the layers over each other, later over earlier: a choice a
// layer makes (a non-nil pointer or slice) replaces the one below; maps
// (labels, skips, gates off) are merged key by key, the later layer's
// value winning. Default() as the first layer gives the effective choices;
// a policy file under the flags gives what a release runs. No layer is
// changed.
func Overlay(layers ...Choices) Choices {
	var out Choices
	for _, l := range layers {
		overlay(reflect.ValueOf(&out).Elem(), reflect.ValueOf(l))
	}
	return out
}

func overlay(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Struct:
		for i := range src.NumField() {
			overlay(dst.Field(i), src.Field(i))
		}
	case reflect.Pointer:
		if !src.IsNil() {
			v := reflect.New(src.Elem().Type())
			v.Elem().Set(src.Elem())
			dst.Set(v)
		}
	case reflect.Slice:
		if !src.IsNil() {
			dst.Set(reflect.AppendSlice(reflect.MakeSlice(src.Type(), 0, src.Len()), src))
		}
	case reflect.Map:
		if src.IsNil() {
			return
		}
		if dst.IsNil() {
			dst.Set(reflect.MakeMap(src.Type()))
		} else {
			// A copy, so the layer below keeps its own map.
			m := reflect.MakeMap(src.Type())
			for it := dst.MapRange(); it.Next(); {
				m.SetMapIndex(it.Key(), it.Value())
			}
			dst.Set(m)
		}
		for it := src.MapRange(); it.Next(); {
			dst.SetMapIndex(it.Key(), it.Value())
		}
	default:
		panic("choices: field of kind " + src.Kind().String() + ": make it a pointer, so that unset is nil")
	}
}

// Fields are the places of every choice, by JSON names (recipe.main,
// gates.smoke.healthPath), in declaration order: what Error.Field names
// and what a policy file's keys will be.
func Fields() []string {
	var out []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			path := prefix + name
			out = append(out, path)
			if f.Type.Kind() == reflect.Struct {
				walk(path+".", f.Type)
			}
		}
	}
	walk("", reflect.TypeFor[Choices]())
	return out
}

// Field is the place (as Fields names it) of the choice ptr points to,
// inside c: how a flag bound to &c.Gates.MaxSize knows it sets
// gates.maxSize. It panics on a pointer outside c, a binding bug.
func (c *Choices) Field(ptr any) string {
	want := reflect.ValueOf(ptr)
	var find func(prefix string, v reflect.Value) string
	find = func(prefix string, v reflect.Value) string {
		for i := range v.NumField() {
			f, sf := v.Field(i), v.Type().Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if f.Addr().Type() == want.Type() && f.Addr().Pointer() == want.Pointer() {
				return prefix + name
			}
			if f.Kind() == reflect.Struct {
				if p := find(prefix+name+".", f); p != "" {
					return p
				}
			}
		}
		return ""
	}
	if p := find("", reflect.ValueOf(c).Elem()); p != "" {
		return p
	}
	panic(fmt.Sprintf("choices: %T is not a field of these choices", ptr))
}
