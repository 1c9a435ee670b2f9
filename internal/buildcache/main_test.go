package buildcache

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
)

func TestMainFlags(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		usage   bool
		want    string
		notWant string
	}{
		{"stray argument", nil, []string{"extra"}, true, `unexpected argument "extra"`, ""},
		{"unknown flag", nil, []string{"--nope"}, true, "flag provided but not defined", ""},
		{"no key", nil, []string{"--repository", "localhost:5000/c"}, true, "$GOIMAGE_BUILD_CACHE_KEY is unset or empty", ""},
		{"short key", map[string]string{"K": "0123"}, []string{"--repository", "localhost:5000/c", "--key-env", "K"}, true, "$K holds 4 bytes", "0123"},
		{"a value where the name belongs", nil, []string{"--repository", "localhost:5000/c", "--key-env", "hunter2 is my key"}, true, "give the NAME", "hunter2"},
		{"password without user", map[string]string{"K": testCacheKeyValue}, []string{"--repository", "localhost:5000/c", "--key-env", "K", "--password-env", "P"}, true, "without a username", ""},
		{"bad repository", map[string]string{"K": testCacheKeyValue}, []string{"--repository", "c", "--key-env", "K"}, true, "registry written out", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(DefaultKeyEnv, "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			err := Main(context.Background(), tt.args, strings.NewReader(""), &bytes.Buffer{}, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Main = %v, want %q", err, tt.want)
			}
			if errors.As(err, new(UsageError)) != tt.usage {
				t.Errorf("usage error = %v, want %v", !tt.usage, tt.usage)
			}
			if tt.notWant != "" && strings.Contains(err.Error()+stderr.String(), tt.notWant) {
				t.Errorf("the message repeats %q: %v", tt.notWant, err)
			}
		})
	}
	if err := Main(context.Background(), []string{"-h"}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

const testCacheKeyValue = "0123456789abcdef0123"

// A go command whose go-image is gone still builds: the program serves
// the local directory itself.
func TestMainConnectFallsBackToLocal(t *testing.T) {
	var stdout, stderr bytes.Buffer
	in := strings.NewReader(`{"ID":1,"Command":"get","ActionID":"` + b64(sum("a")) + `"}` + "\n" + `{"ID":2,"Command":"close"}` + "\n")
	err := Main(context.Background(), []string{"--connect", filepath.Join(t.TempDir(), "gone"), "--dir", t.TempDir()}, in, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "serving the local cache only") {
		t.Errorf("no warning:\n%s", stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, `"KnownCommands":["get","put","close"]`) || !strings.Contains(out, `{"ID":1,"Miss":true}`) || !strings.Contains(out, `{"ID":2}`) {
		t.Errorf("answers:\n%s", out)
	}
}

func b64(id ID) string { return base64.StdEncoding.EncodeToString(id[:]) }
