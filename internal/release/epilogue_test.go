package release

import (
	"bytes"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/push"
	"dagger/go-image/internal/report"
)

func TestWriteReport(t *testing.T) {
	blocked := &Result{Report: &report.Report{Results: []report.Result{{Gate: "size", ID: "size/compressed", Status: report.Fail, Message: "over budget"}}}}
	for _, tt := range []struct {
		name string
		res  *Result
		want string // "" for nothing written
	}{
		{"blocked: the report says what to fix", blocked, "[FAIL] size/compressed"},
		{"stopped before the gates", &Result{Report: &report.Report{}}, ""},
		{"no result at all", nil, ""},
	} {
		var b bytes.Buffer
		if err := tt.res.WriteReport(&b); err != nil {
			t.Fatal(err)
		}
		if (tt.want == "") != (b.Len() == 0) || !strings.Contains(b.String(), tt.want) {
			t.Errorf("%s: wrote %q, want %q", tt.name, b.String(), tt.want)
		}
	}
}

func TestWriteEpilogue(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	pushed := &push.Result{Digest: d, References: []string{"r.example/acme/api@" + d.String()}, Tags: []string{"r.example/acme/api:1", "r.example/acme/api:latest"}}
	released := "go-image: released " + d.String() + " as r.example/acme/api:1, r.example/acme/api:latest\n"
	var b bytes.Buffer
	if err := (&Result{Digest: d, Pushed: pushed}).WriteEpilogue(&b, "go-image verify"); err != nil || b.String() != released {
		t.Errorf("unsigned: %q, %v; want %q", b.String(), err, released)
	}
	b.Reset()
	signed := &Result{Digest: d, Pushed: pushed, Signatures: []string{"r.example/acme/api:sha256-ab.sig"}}
	if err := signed.WriteEpilogue(&b, "dagger call verify"); err != nil {
		t.Fatal(err)
	}
	want := "go-image: signed " + d.String() + " with its provenance, SBOM and gate report; check with: dagger call verify --image r.example/acme/api@" + d.String() + " --key cosign.pub\n" + released
	if b.String() != want {
		t.Errorf("signed:\n%q\nwant\n%q", b.String(), want)
	}
	if err := (&Result{Report: &report.Report{}}).WriteEpilogue(&b, "go-image verify"); err == nil {
		t.Error("the epilogue of a release that pushed nothing must be an error")
	}
}
