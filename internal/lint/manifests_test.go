package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestScanProbes(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"liveness and readiness", `
containers:
  - name: a
    livenessProbe:
      httpGet:
        path: /livez
    readinessProbe:
      httpGet: {port: 8080}
      initialDelaySeconds: 3
    ports:
      - containerPort: 8080
        path: /not-a-probe
`, []string{"livenessProbe /livez"}},
		{"list item key, quotes, comment", `
- readinessProbe:
    httpGet:
      path: '/health/ready/' # trailing slash is the same route
`, []string{"readinessProbe /health/ready"}},
		{"helm template lines and templated values", `
          {{- with .Values.probe }}
          startupProbe:
            httpGet:
              path: {{ .path }}
          {{- end }}
          livenessProbe:
            {{- toYaml .Values.liveness | nindent 12 }}
            httpGet:
              path: /ok
`, []string{"livenessProbe /ok"}},
		{"root path, control characters and oversize are not paths", "livenessProbe:\n  httpGet:\n    path: /\nreadinessProbe:\n  httpGet:\n    path: \"/a\x1b[31mred\"\nstartupProbe:\n  httpGet:\n    path: /" + strings.Repeat("a", 300) + "\n", nil},
		{"a block ends when indentation returns", `
livenessProbe:
  exec: {command: [true]}
path: /outside
`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range scanProbes([]byte(tt.yaml)) {
				got = append(got, p.kind+" "+p.path)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// The source tree is hostile input: links out of it, FIFOs, huge files and
// deep trees are not read; skipped directories are not walked.
func TestReadManifestProbesHostileTree(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	probe := func(path string) string {
		return "livenessProbe:\n  httpGet:\n    path: " + path + "\n"
	}
	write("deploy/app.yaml", probe("/app-live"))
	write("vendor/x/dep.yaml", probe("/vendored"))
	write(".github/ci.yml", probe("/hidden"))
	deep := strings.Repeat("d/", manifestMaxDepth+1)
	write(deep+"deep.yaml", probe("/too-deep"))
	write("big.yaml", probe("/first-mebibyte")+strings.Repeat("#", manifestMaxFileBytes)+"\n"+probe("/after-the-limit"))
	if err := os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte(probe("/outside-the-tree")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range readManifestProbes(root) {
		got = append(got, p.path+" "+p.file)
	}
	want := []string{"/first-mebibyte big.yaml", "/app-live deploy/app.yaml"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A tree of many manifests is read up to the file limit, and keeps at most
// manifestMaxPaths paths.
func TestReadManifestProbesLimits(t *testing.T) {
	root := t.TempDir()
	for i := 0; i < manifestMaxFiles+20; i++ {
		path := "/same"
		if i >= manifestMaxFiles {
			path = "/late"
		}
		content := "livenessProbe:\n  httpGet:\n    path: " + path + "\n"
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("m%05d.yaml", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := readManifestProbes(root); len(got) != 1 || got[0].path != "/same" {
		t.Errorf("got %v, want only /same: files past the limit are not read", got)
	}
	root = t.TempDir()
	for i := 0; i < manifestMaxPaths+10; i++ {
		content := fmt.Sprintf("livenessProbe:\n  httpGet:\n    path: /p%d\n", i)
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("m%05d.yaml", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := readManifestProbes(root); len(got) != manifestMaxPaths {
		t.Errorf("%d paths, want the limit %d", len(got), manifestMaxPaths)
	}
}
