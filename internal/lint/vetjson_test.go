package lint

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestParseVetJSON(t *testing.T) {
	in := `go: downloading example.com/dep v1.0.0
# example.com/a
{
	"example.com/a": {
		"httpshutdown": [
			{"posn": "/src/main.go:61:12", "end": "/src/main.go:61:12", "message": "Shutdown(context.Background()) has no deadline"}
		],
		"healthmux": []
	}
}
{}
`
	fs, err := ParseVetJSON(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Analyzer != "httpshutdown" || fs[0].Pos.Filename != "/src/main.go" || fs[0].Pos.Line != 61 || fs[0].Pos.Column != 12 {
		t.Fatalf("findings = %+v", fs)
	}
	if _, err := ParseVetJSON(strings.NewReader(`{"p": {"healthmux": {"error": "boom"}}}`)); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("analyzer error not returned: %v", err)
	}
	if _, err := ParseVetJSON(strings.NewReader(`{"p": `)); err == nil {
		t.Errorf("truncated output accepted")
	}
}

var vettool struct {
	once sync.Once
	path string
	err  error
}

// k8slint as a vet tool gives the same findings as the in-process checker:
// the Dagger module's path (go vet -vettool -json in a container) and the
// CLI's agree.
func TestVetToolMatchesCheck(t *testing.T) {
	vettool.once.Do(func() {
		dir, err := os.MkdirTemp("", "k8slint-")
		if err != nil {
			vettool.err = err
			return
		}
		vettool.path = filepath.Join(dir, "k8slint")
		out, err := exec.Command("go", "build", "-o", vettool.path, "dagger/go-image/cmd/k8slint").CombinedOutput()
		if err != nil {
			vettool.err = err
			t.Log(string(out))
		}
	})
	if vettool.err != nil {
		t.Fatal(vettool.err)
	}
	_, file, _, _ := runtime.Caller(0)
	for _, d := range []string{"service", "k8s/shutdown-no-timeout", "k8s/watch-without-cancel"} {
		dir := filepath.Join(filepath.Dir(file), "..", "..", "testdata", d)
		cmd := exec.Command("go", "vet", "-vettool="+vettool.path, "-json", "./...")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: go vet: %v\n%s", d, err, out)
		}
		got, err := ParseVetJSON(strings.NewReader(string(out)))
		if err != nil {
			t.Fatalf("%s: %v\n%s", d, err, out)
		}
		pkgs, err := Load(t.Context(), dir, nil, "./...")
		if err != nil {
			t.Fatal(err)
		}
		want, err := Analyze(pkgs, Analyzers()...)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: vet tool found %d, checker %d:\n%v\n%v", d, len(got), len(want), got, want)
		}
		for i := range got {
			if got[i].Analyzer != want[i].Analyzer || got[i].Pos.Line != want[i].Pos.Line || got[i].Message != want[i].Message {
				t.Errorf("%s: finding %d: vet tool %+v, checker %+v", d, i, got[i], want[i])
			}
		}
	}
}
