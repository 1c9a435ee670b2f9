package imagefs_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/imagefs"
)

// TestLinkedOnlyAndFlatten: a file that lives on only through a hard
// link is named by LinkedOnly, and Flatten yields the filesystem a runtime
// builds, with every file's contents in a regular entry of its one layer.
func TestLinkedOnlyAndFlatten(t *testing.T) {
	tests := []struct {
		name string
		img  v1.Image
		want []string
	}{
		{"a hard link outliving its whited-out file", hostile.LinkSurvivor(t, []byte("tool")), []string{"/usr/bin/tool2"}},
		{"real shapes: an upgrade under a hard link", hostile.RealShapes(t), []string{"/bin/sh"}},
		{"opaque directory", hostile.OpaqueDir(t), nil},
		{"forged names", hostile.ForgedNames(t), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			got, err := imagefs.LinkedOnly(ctx, tt.img)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("LinkedOnly = %q, want %q", got, tt.want)
			}
			flat, err := imagefs.Flatten(ctx, tt.img, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if ls, _ := flat.Layers(); len(ls) != 1 {
				t.Errorf("flattened into %d layers, want 1", len(ls))
			}
			if again, err := imagefs.LinkedOnly(ctx, flat); err != nil || len(again) != 0 {
				t.Errorf("flattened: LinkedOnly = %q, %v, want none", again, err)
			}
			want, err := walk(ctx, tt.img)
			if err != nil {
				t.Fatal(err)
			}
			have, err := walk(ctx, flat)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(files(have), files(want)) {
				t.Errorf("flattened filesystem\n%v\nwant\n%v", files(have), files(want))
			}
			if !reflect.DeepEqual(have.contents, want.contents) {
				t.Errorf("flattened contents %q, want %q", have.contents, want.contents)
			}
		})
	}
}

// files is what a walk yielded, keyed by path, without the layer it
// came from; a hard link is compared as the contents it reaches.
func files(w walked) map[string]imagefs.Entry {
	m := map[string]imagefs.Entry{}
	for _, e := range w.entries {
		e.Layer = 0
		m[e.Path] = e
	}
	for p, e := range m {
		if e.Type == '1' {
			target := m[e.Linkname]
			e.Linkname, e.Type, e.Size = "", target.Type, target.Size
			m[p] = e
		}
	}
	return m
}
