package compile

import (
	"reflect"
	"testing"
)

func TestReplacesOutside(t *testing.T) {
	gomod := []byte(`module example.com/svc

go 1.24

require (
	k8s.io/client-go v0.37.2
	example.com/lib v1.0.0
	example.com/inner v1.0.0
	example.com/fork v1.0.0
)

replace k8s.io/client-go => ../client-go-stub

replace example.com/lib => /home/me/lib

replace example.com/inner => ./third_party/inner

replace example.com/fork => example.com/fork2 v1.2.0
`)
	got, err := ReplacesOutside(gomod)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"k8s.io/client-go => ../client-go-stub", "example.com/lib => /home/me/lib"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReplacesOutside = %q, want %q", got, want)
	}
}
