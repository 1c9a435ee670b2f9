package report

import (
	"encoding/json"
	"strings"
	"testing"
)

func images() Images {
	api := &Report{Results: []Result{
		{Gate: "size", ID: "size/compressed", Status: Pass, Metrics: map[string]float64{"compressed_bytes": 3130000}},
		{Gate: "scan", ID: "scan/off", Status: Skipped},
		{Gate: "harden", ID: "harden/user-nonroot", Status: Pass},
		{Gate: "harden", ID: "harden/stripped", Status: Warn},
		{Gate: "smoke", ID: "smoke/startup", Status: Pass},
	}}
	ctl := &Report{Results: []Result{
		{Gate: "size", ID: "size/compressed", Status: Pass, Metrics: map[string]float64{"compressed_bytes": 1500000}},
		{Gate: "harden", ID: "harden/user-nonroot", Status: Fail, Message: "runs as root"},
		{Gate: "harden", ID: "harden/stripped", Status: Pass},
	}}
	return Images{
		{Name: "api", Digest: "sha256:ec39256d178f0123456789", Report: api},
		{Name: "ctl\x1b[2K", Digest: "sha256:0123456789abcdef", Report: ctl},
	}
}

func TestImagesSummary(t *testing.T) {
	var b strings.Builder
	if err := images().WriteSummary(&b, "text"); err != nil {
		t.Fatal(err)
	}
	want := `binary      digest               compressed  size  scan  upx  harden  lint  smoke  
api         sha256:ec39256d178f  3.13 MB     PASS  SKIP  -    WARN    -     PASS   
ctl\x1b[2K  sha256:0123456789ab  1.5 MB      PASS  -     -    FAIL    -     -      
FAIL: 2 images, 1 passed every gate, 1 failed
`
	if b.String() != want {
		t.Errorf("text summary:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := images().WriteSummary(&b, "markdown"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| `api` | `sha256:ec39256d178f` | 3.13 MB | ✅ pass | ⏭️ skipped | - | ⚠️ warn | - | ✅ pass |") {
		t.Errorf("markdown summary:\n%s", b.String())
	}
	err := images().Err()
	if err == nil || !strings.Contains(err.Error(), "ctl\\x1b[2K: harden/user-nonroot: runs as root") {
		t.Errorf("Err = %v, want each failure named after its binary", err)
	}
	if (Images{{Name: "api", Report: &Report{}}}).Err() != nil {
		t.Error("an image without failures failed")
	}
}

func TestImagesWrite(t *testing.T) {
	var b strings.Builder
	if err := images().Write(&b, "text"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"go-image report for api\n", "[FAIL] harden/user-nonroot", "binary      digest"} {
		if !strings.Contains(out, want) {
			t.Errorf("Write text lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := images().Write(&b, "json"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Images []struct {
			Name   string
			Passed bool
			Report struct{ Results []Result }
		}
		Passed bool
	}
	if err := json.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Passed || len(doc.Images) != 2 || !doc.Images[0].Passed || doc.Images[1].Passed || doc.Images[1].Name != "ctl\x1b[2K" {
		t.Errorf("json = %+v", doc)
	}
}

func TestSettings(t *testing.T) {
	r := &Report{Results: []Result{{Gate: "size", ID: "size/compressed", Status: Pass}}, Settings: []Setting{
		{Field: "gates.maxSize", Value: `"20MB"`, From: "file go-image.yaml:4:12"},
		{Field: "gates.upx", Value: `"deny"`, From: "default"},
		{Field: "gates.off.smoke", Value: "\"x\x1b[2K\r[PASS] all`|\"", From: "flag --no-smoke"},
	}}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	if !strings.Contains(text, `gates.maxSize = "20MB"  (file go-image.yaml:4:12)`) || strings.Contains(text, "gates.upx") {
		t.Errorf("text: the chosen settings with their origin, not the defaults:\n%s", text)
	}
	if strings.ContainsAny(text, "\x1b\r") {
		t.Errorf("text: a setting's value repaints the report:\n%q", text)
	}
	b.Reset()
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if !strings.Contains(md, "| `gates.maxSize` | `\"20MB\"` | file go-image.yaml:4:12 |") || strings.Contains(md, "gates.upx") {
		t.Errorf("markdown settings:\n%s", md)
	}
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "| `gates.off.smoke`") && strings.Count(strings.ReplaceAll(l, "\\|", ""), "|") != 4 {
			t.Errorf("a setting's value adds a cell: %q", l)
		}
	}
	b.Reset()
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"from": "default"`) {
		t.Errorf("json keeps every setting:\n%s", b.String())
	}
}
