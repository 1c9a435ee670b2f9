package policy_test

import (
	"context"
	"encoding/json"
	"testing"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/imagetest"
	"dagger/go-image/internal/policy"
)

// The size, UPX and hardening gates of the standard list read the image
// in one pass: each layer is opened once for the three (it was three times
// each), and the verdicts are the ones each gate reaches alone.
func TestStandardGatesShareOnePass(t *testing.T) {
	base := imagetest.Append(t, imagetest.Compliant(t), imagetest.File{Path: "/opt/tool", Mode: 0o755, Data: []byte("#!/bin/sh\n")})
	img, n := imagetest.CountOpens(t, base)
	ls, err := base.Layers()
	if err != nil {
		t.Fatal(err)
	}
	gs := policy.Standard(policy.Options{})
	shared := gates.Run(context.Background(), img, gs...)
	if got, want := n.Load(), int32(len(ls)); got != want {
		t.Errorf("the standard gates opened the layers %d times, want %d: once each", got, want)
	}
	var alone []any
	for _, g := range gs {
		res, err := g.Check(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			alone = append(alone, r)
		}
	}
	a, _ := json.Marshal(alone)
	b, _ := json.Marshal(shared.Results)
	if string(a) != string(b) {
		t.Errorf("shared pass:\n%s\nalone:\n%s", b, a)
	}
}
