package recipe_test

import (
	"fmt"
	"reflect"
	"testing"

	"dagger/go-image/internal/recipe"
)

func opts(t *testing.T, main, name, platform string, ldflags ...string) recipe.Options {
	t.Helper()
	o, err := recipe.Options{Main: main, Name: name, Platform: platform, Ldflags: ldflags}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestBatches(t *testing.T) {
	const mod = "example.com/m"
	api := opts(t, "./cmd/api", "api", "linux/amd64")
	ctl := opts(t, "./cmd/ctl", "ctl", "linux/amd64")
	armAPI := opts(t, "./cmd/api", "api", "linux/arm64")
	v2 := opts(t, "./cmd/api/v2", "v2", "linux/amd64")
	other := opts(t, "./cmd/x", "x", "linux/amd64", "-X main.flavour=b")

	bs := recipe.Batches([]recipe.Options{api, ctl, armAPI, v2, other}, mod, "/out")
	var got [][]string
	for _, b := range bs {
		got = append(got, b.Files)
	}
	// api and ctl share a build; arm64 and other ldflags do not; api/v2
	// would be written as "api" too, so it waits for the next batch.
	if want := [][]string{{"api", "ctl"}, {"api"}, {"v2"}, {"x"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("batches' files = %v, want %v", got, want)
	}
	first := bs[0].Command.Args
	if tail := first[len(first)-4:]; !reflect.DeepEqual(tail, []string{"-o", "/out/0/", "./cmd/api", "./cmd/ctl"}) {
		t.Errorf("a batch's command ends %q", tail)
	}
	// Alone, a binary is built exactly as Compile builds it.
	if !reflect.DeepEqual(bs[1].Command, armAPI.Compile("/out/1/api")) || !reflect.DeepEqual(bs[2].Command, v2.Compile("/out/2/v2")) {
		t.Errorf("a batch of one is not Compile's command: %v", bs[1].Command)
	}
	if !reflect.DeepEqual(bs[0].Command.Env, api.Compile("x").Env) {
		t.Errorf("a batch's environment differs from its binaries': %v", bs[0].Command.Env)
	}
}

func ExampleExecName() {
	for _, p := range []string{"example.com/m/cmd/api", "example.com/m/v2", "example.com/m/cmd/v1", "example.com/m"} {
		fmt.Println(recipe.ExecName(p))
	}
	// Output:
	// api
	// m
	// v1
	// m
}
