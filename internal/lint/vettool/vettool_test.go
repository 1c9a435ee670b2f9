package vettool

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain is the vet tool when this test binary is started under Name,
// as the module's main package is.
func TestMain(m *testing.M) {
	RunIfMode()
	os.Exit(m.Run())
}

// A copy of a binary that calls RunIfMode, under Name, is a go vet tool:
// go vet runs it on a variant the analyzers judge, and it reports.
func TestRunIfModeIsAVetTool(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tool := filepath.Join(t.TempDir(), Name)
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(tool, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "vet", "-vettool="+tool, "-json", "./...")
	cmd.Dir = filepath.Join("..", "..", "..", "testdata", "k8s", "clientset-per-request")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go vet: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), `"k8sclientperrequest"`) {
		t.Errorf("go vet with the tool reported nothing of k8sclientperrequest:\n%s", b)
	}
}
