package mains_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"dagger/go-image/internal/compile"
	"dagger/go-image/internal/mains"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{in: nil, want: []string{"."}},
		{in: []string{"."}, want: []string{"."}},
		{in: []string{"cmd/api"}, want: []string{"./cmd/api"}},
		{in: []string{"./cmd/api/", "./cmd/api"}, want: []string{"./cmd/api"}},
		{in: []string{"./cmd/...", "./..."}, want: []string{"./cmd/...", "./..."}},
		{in: []string{"..."}, want: []string{"./..."}},
		{in: []string{"./cmd/../tools/x"}, want: []string{"./tools/x"}},
		{in: []string{""}, wantErr: "name a directory"},
		{in: []string{"../other"}, wantErr: "inside the source"},
		{in: []string{"./cmd/../../x"}, wantErr: "inside the source"},
		{in: []string{"/etc"}, wantErr: "inside the source"},
		{in: []string{"./cmd/.../x"}, wantErr: "trailing /..."},
		{in: []string{"./c...md"}, wantErr: "trailing /..."},
		{in: []string{"./a,./b"}, wantErr: "one package or pattern per entry"},
		{in: []string{"./cmd/\x1b[2Kapi"}, wantErr: "control or invisible character"},
		{in: []string{"./cmd/api\r"}, wantErr: "control or invisible character"},
		// A flag-like entry becomes a directory, never a go list flag.
		{in: []string{"-toolexec=/bin/sh"}, want: []string{"./-toolexec=/bin/sh"}},
	} {
		got, err := mains.Normalize(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Normalize(%q) = %q, %v; want an error saying %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		// go list reads anything else as an import path (cmd/... is the
		// standard library's commands) or a flag.
		for _, a := range got {
			if a != "." && !strings.HasPrefix(a, "./") {
				t.Errorf("Normalize(%q) gives %q, which go list would not read as a directory", tc.in, a)
			}
		}
	}
	many := make([]string, mains.MaxArgs+1)
	for i := range many {
		many[i] = fmt.Sprintf("./cmd/%d", i)
	}
	if _, err := mains.Normalize(many); err == nil || !strings.Contains(err.Error(), "use a pattern") {
		t.Errorf("Normalize(%d entries) = %v, want a bound", len(many), err)
	}
}

// pkg is one package of go list's output.
func pkg(importPath, name string, match ...string) string {
	m, _ := json.Marshal(match)
	return fmt.Sprintf(`{"ImportPath": %q, "Name": %q, "Match": %s}`, importPath, name, m)
}

func TestExpand(t *testing.T) {
	const mod = "example.com/m"
	for _, tc := range []struct {
		name    string
		args    []string
		list    []string
		want    []mains.Binary
		wantErr string
	}{
		{
			name: "a pattern skips libraries",
			args: []string{"./cmd/..."},
			list: []string{pkg(mod+"/cmd/api", "main", "./cmd/..."), pkg(mod+"/cmd/lib", "lib", "./cmd/..."), pkg(mod+"/cmd/ctl", "main", "./cmd/...")},
			want: []mains.Binary{{Name: "api", Main: "./cmd/api"}, {Name: "ctl", Main: "./cmd/ctl"}},
		},
		{
			name: "the module root is named after the module",
			args: []string{"./..."},
			list: []string{pkg(mod, "main", "./..."), pkg(mod+"/v2/cmd/x", "main", "./...")},
			want: []mains.Binary{{Name: "m", Main: "."}, {Name: "x", Main: "./v2/cmd/x"}},
		},
		{
			name: "an explicit package and a pattern that also matches it build it once",
			args: []string{"./cmd/api", "./cmd/..."},
			list: []string{pkg(mod+"/cmd/api", "main", "./cmd/api", "./cmd/...")},
			want: []mains.Binary{{Name: "api", Main: "./cmd/api"}},
		},
		{
			name:    "an explicit library is an error",
			args:    []string{"./internal/lib"},
			list:    []string{pkg(mod+"/internal/lib", "lib", "./internal/lib")},
			wantErr: "is package lib, not main",
		},
		{
			name:    "a pattern without a main package is an error",
			args:    []string{"./internal/..."},
			list:    []string{pkg(mod+"/internal/lib", "lib", "./internal/...")},
			wantErr: "matches no main package",
		},
		{
			name:    "a pattern that matches nothing is an error",
			args:    []string{"./cmd/..."},
			wantErr: "matches no main package",
		},
		{
			name:    "a missing directory",
			args:    []string{"./nope"},
			list:    []string{`{"ImportPath": "./nope", "Match": ["./nope"], "Error": {"Err": "stat /src/nope: directory not found"}}`},
			wantErr: "not found in the module",
		},
		{
			name:    "a pattern over a missing directory",
			args:    []string{"./nope/..."},
			list:    []string{`{"ImportPath": "./nope/...", "Match": ["./nope/..."], "Error": {"Err": "pattern ./nope/...: lstat ./nope/: no such file or directory"}}`},
			wantErr: "no such file or directory",
		},
		{
			name:    "cgo in a main a pattern matched",
			args:    []string{"./cmd/..."},
			list:    []string{`{"ImportPath": "example.com/m/cmd/c", "Name": "main", "CgoFiles": ["c.go"], "Match": ["./cmd/..."]}`},
			wantErr: "uses cgo",
		},
		{
			// go list reports file names and errors as they are: a file
			// name with a newline put a GitHub Actions command at the start
			// of a line of the Dagger module's error.
			name:    "a hostile cgo file name",
			args:    []string{"./cmd/..."},
			list:    []string{`{"ImportPath": "example.com/m/cmd/c", "Name": "main", "CgoFiles": ["x\n::add-mask::FAIL ##[error]y.go"], "Match": ["./cmd/..."]}`},
			wantErr: "uses cgo",
		},
		{
			name:    "a hostile go list error",
			args:    []string{"./cmd/..."},
			list:    []string{`{"ImportPath": "example.com/m/cmd/c", "Match": ["./cmd/..."], "Error": {"Err": "x.go:1:1: expected 'package'\n::add-mask::FAIL\u001b[2K##[error]"}}`},
			wantErr: "expected 'package'",
		},
		{
			name:    "a hostile error of an explicit package",
			args:    []string{"./cmd/c"},
			list:    []string{`{"ImportPath": "./cmd/c", "Match": ["./cmd/c"], "Error": {"Err": "cannot find\n::add-mask::FAIL"}}`},
			wantErr: "not found in the module",
		},
		{
			name:    "two mains with one name",
			args:    []string{"./..."},
			list:    []string{pkg(mod+"/cmd/server", "main", "./..."), pkg(mod+"/tools/server", "main", "./...")},
			wantErr: "./cmd/server and ./tools/server both build a binary named server",
		},
		{
			// go refuses a case-insensitive collision of import paths only
			// within one directory: API.tar and api.tar are one file on a
			// case-insensitive file system, and {name} gives one repository.
			name:    "two mains whose names differ only in case",
			args:    []string{"./..."},
			list:    []string{pkg(mod+"/cmd/API", "main", "./..."), pkg(mod+"/tools/api", "main", "./...")},
			wantErr: "./cmd/API and ./tools/api build binaries named API and api",
		},
		{
			name:    "a package of another module",
			args:    []string{"./..."},
			list:    []string{pkg("example.com/other/cmd/x", "main", "./...")},
			wantErr: "not in the source's module",
		},
		{
			name:    "a module path prefix is not the module",
			args:    []string{"./..."},
			list:    []string{pkg(mod+"x/cmd/y", "main", "./...")},
			wantErr: "not in the source's module",
		},
		{
			name:    "output that is not go list's",
			args:    []string{"."},
			list:    []string{`{"ImportPath": `},
			wantErr: "read go list's output",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mains.Expand(tc.args, mod, []byte(strings.Join(tc.list, "\n")))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Expand = %v, %v; want an error saying %q", got, err, tc.wantErr)
				}
				if msg := err.Error(); strings.ContainsAny(msg, "\n\r\x1b") || strings.Contains(msg, "##[") {
					t.Errorf("Expand's error quotes go list raw: %q", msg)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Expand = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestExpandBound: a source that adds thousands of tiny main packages under
// ./... must not make one call build, gate and push thousands of images
// (and, through {name}, create thousands of repositories).
func TestExpandBound(t *testing.T) {
	const mod = "example.com/m"
	for _, n := range []int{mains.MaxBinaries, mains.MaxBinaries + 1} {
		var list []string
		for i := range n {
			list = append(list, pkg(fmt.Sprintf("%s/cmd/m%d", mod, i), "main", "./..."))
		}
		got, err := mains.Expand([]string{"./..."}, mod, []byte(strings.Join(list, "\n")))
		if n <= mains.MaxBinaries && (err != nil || len(got) != n) {
			t.Errorf("%d mains: %d binaries, %v", n, len(got), err)
		}
		if n > mains.MaxBinaries && (err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d main packages, at most %d", n, mains.MaxBinaries))) {
			t.Errorf("%d mains: %d binaries, %v; want a bound", n, len(got), err)
		}
	}
}

// TestExpandWithGoList runs the real go list over testdata/monorepo: three
// mains under cmd/, a library under internal/.
func TestExpandWithGoList(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	dir := filepath.Join("..", "..", "testdata", "monorepo")
	for _, tc := range []struct {
		args    []string
		want    []string
		wantErr string
	}{
		{args: []string{"./cmd/..."}, want: []string{"api", "ctl", "worker"}},
		{args: []string{"./..."}, want: []string{"api", "ctl", "worker"}},
		{args: []string{"./cmd/worker", "./cmd/api"}, want: []string{"api", "worker"}},
		{args: []string{"./internal/server"}, wantErr: "is package server, not main"},
		{args: []string{"./internal/..."}, wantErr: "matches no main package"},
		{args: []string{"./nope/..."}, wantErr: "./nope/..."},
		{args: []string{"."}, wantErr: "no Go files"},
	} {
		args, err := mains.Normalize(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		out, err := compile.List(context.Background(), dir, mains.ListArgs(args))
		if err != nil {
			t.Fatal(err)
		}
		got, err := mains.Expand(args, "example.com/monorepo", out)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: %v, %v; want an error saying %q", tc.args, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(mains.Names(got), tc.want) {
			t.Errorf("%q: %v, %v; want %q", tc.args, got, err, tc.want)
		}
	}
}

func ExampleNormalize() {
	args, _ := mains.Normalize([]string{"cmd/api", "./cmd/...", "cmd/api/"})
	fmt.Println(args, mains.ListArgs(args)[5:])
	// Output: [./cmd/api ./cmd/...] [-- ./cmd/api ./cmd/...]
}
