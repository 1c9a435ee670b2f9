package report

import (
	"bytes"
	"fmt"
	"testing"
)

func TestCheckFormat(t *testing.T) {
	tests := []struct {
		input, format string
		extra         []string
		want          string // the error, "" for none
	}{
		{"--format", "text", nil, ""},
		{"--format", "json", nil, ""},
		{"--format", "markdown", nil, ""},
		{"--format", "md", nil, ""},
		{"format", "", nil, `format "": use text, json or markdown`},
		{"--format", "xml", nil, `--format "xml": use text, json or markdown`},
		{"format", "sarif", nil, `format "sarif": use text, json or markdown`},
		{"--format", "sarif", []string{"sarif"}, ""},
		{"--format", "html", []string{"sarif"}, `--format "html": use text, json, markdown or sarif`},
		{"--format", "TEXT", nil, `--format "TEXT": use text, json or markdown`},
	}
	for _, tt := range tests {
		err := CheckFormat(tt.input, tt.format, tt.extra...)
		if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
			t.Errorf("CheckFormat(%q, %q, %v) = %v, want %q", tt.input, tt.format, tt.extra, err, tt.want)
		}
	}
}

// Every format CheckFormat accepts, Write renders.
func TestCheckFormatMatchesWrite(t *testing.T) {
	r := &Report{Results: []Result{{Gate: "size", ID: "size/compressed", Status: Pass}}}
	for _, f := range append([]string{"md"}, Formats...) {
		if err := CheckFormat("format", f); err != nil {
			t.Fatal(err)
		}
		if err := r.Write(&bytes.Buffer{}, f); err != nil {
			t.Errorf("CheckFormat accepts %q, which Write refuses: %v", f, err)
		}
	}
}
