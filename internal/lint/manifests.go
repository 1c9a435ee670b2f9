package lint

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// The repository's own Kubernetes manifests and Helm charts say which paths
// the kubelet probes: a livenessProbe, readinessProbe or startupProbe with
// httpGet.path. healthmux treats those paths as probes too, beside the
// probe-path family it knows by name.
//
// The source tree is hostile input like any other: reading it is bounded in
// files, bytes, depth and line length, follows no symbolic link (nor opens
// anything but a regular file), and keeps only paths that look like URL
// paths. Helm templates are not YAML; the reader is line-based and skips
// values that are templated ({{ … }}).
const (
	manifestMaxEntries   = 20000   // directory entries visited
	manifestMaxFiles     = 500     // YAML files read
	manifestMaxFileBytes = 1 << 20 // bytes read of one file
	manifestMaxBytes     = 16 << 20
	manifestMaxDepth     = 12
	manifestMaxPaths     = 64
)

// probePath is a path a manifest probes, with where it was read.
type probePath struct {
	path, kind, file string // kind: livenessProbe, readinessProbe, startupProbe
}

var (
	manifestMu    sync.Mutex
	manifestCache = map[string][]probePath{}
)

// forgetManifests empties the cache: each in-process run reads the
// manifests afresh, as each go vet run does.
func forgetManifests() {
	manifestMu.Lock()
	defer manifestMu.Unlock()
	clear(manifestCache)
}

// manifestProbes returns the probe paths of the manifests under root (a
// module root), read once per root and run.
func manifestProbes(root string) []probePath {
	manifestMu.Lock()
	defer manifestMu.Unlock()
	if ps, ok := manifestCache[root]; ok {
		return ps
	}
	ps := readManifestProbes(root)
	manifestCache[root] = ps
	return ps
}

// skipDirs are never manifests of the service: dependencies, VCS data.
var skipDirs = map[string]bool{"vendor": true, "node_modules": true, "third_party": true}

func readManifestProbes(root string) []probePath {
	var out []probePath
	seen := map[string]bool{}
	entries, files, total := 0, 0, 0
	errStop := errors.New("limit")
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() && p != root {
				return fs.SkipDir
			}
			return nil
		}
		entries++
		if entries > manifestMaxEntries || files >= manifestMaxFiles || total >= manifestMaxBytes || len(out) >= manifestMaxPaths {
			return errStop
		}
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return nil
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || skipDirs[name] || strings.Count(rel, string(filepath.Separator)) >= manifestMaxDepth) {
				return fs.SkipDir
			}
			return nil
		}
		// Regular files only: a symbolic link may point anywhere (outside
		// the tree, to a device or a FIFO).
		if !d.Type().IsRegular() {
			return nil
		}
		ext := strings.ToLower(filepath.Ext(p))
		if ext != ".yaml" && ext != ".yml" {
			return nil
		}
		files++
		data, n := readRegular(p, manifestMaxFileBytes)
		total += n
		for _, pp := range scanProbes(data) {
			pp.file = filepath.ToSlash(rel)
			if !seen[pp.path] && len(out) < manifestMaxPaths {
				seen[pp.path] = true
				out = append(out, pp)
			}
		}
		return nil
	})
	return out
}

// readRegular reads at most limit bytes of a regular file, refusing links
// and anything that is not a regular file once opened.
func readRegular(path string, limit int64) ([]byte, int) {
	f, err := openNoFollow(path)
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, 0
	}
	data, _ := io.ReadAll(io.LimitReader(f, limit))
	return data, len(data)
}

// urlPath is what a probe path may look like: printable, no spaces or
// control characters, bounded.
var urlPath = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,200}$`)

// scanProbes finds httpGet paths inside probe blocks of YAML (or a Helm
// template of it), line by line: a probe key opens a block that lasts while
// lines are indented deeper.
func scanProbes(data []byte) []probePath {
	var out []probePath
	s := bufio.NewScanner(bytes.NewReader(data))
	s.Buffer(make([]byte, 0, 4096), 64<<10)
	kind, indent := "", -1
	for s.Scan() {
		line := s.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "{{") {
			continue // blank, comment, or a template directive line
		}
		ind := len(line) - len(strings.TrimLeft(line, " "))
		for strings.HasPrefix(trimmed, "- ") {
			trimmed = strings.TrimSpace(trimmed[2:])
			ind += 2
		}
		key, value, ok := strings.Cut(trimmed, ":")
		key = strings.Trim(strings.TrimSpace(key), `"'`)
		if kind != "" && ind <= indent {
			kind, indent = "", -1
		}
		if !ok {
			continue
		}
		switch key {
		case "livenessProbe", "readinessProbe", "startupProbe":
			kind, indent = key, ind
			continue
		}
		if kind == "" || key != "path" {
			continue
		}
		v := strings.TrimSpace(value)
		if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		v = strings.Trim(v, `"'`)
		if strings.Contains(v, "{{") || v == "/" || !urlPath.MatchString(v) {
			continue
		}
		out = append(out, probePath{path: routePath(v), kind: kind})
	}
	return out
}

// moduleRoot returns the directory of the nearest go.mod above a source
// file, or the file's own directory in GOPATH mode (no module).
func moduleRoot(file string, inModule bool) string {
	dir := filepath.Dir(file)
	if !inModule {
		return dir
	}
	for d, i := dir, 0; i < 64; i++ {
		if st, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && st.Mode().IsRegular() {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return dir
}
