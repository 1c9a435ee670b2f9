// Command trivydbfixture writes a small Trivy vulnerability database for
// offline tests: the fixture advisories in fixtures/*.yaml (or -fixtures),
// loaded into BoltDB the way Trivy's own tests do (aquasecurity/bolt-fixtures),
// plus a metadata.json that Trivy accepts as current.
//
// It is its own module so that trivy-db and its dependencies stay out of
// go-image's go.mod: only the scan tests and developers need it.
//
//	trivydbfixture -cache-dir DIR   # writes DIR/db/trivy.db and DIR/db/metadata.json
//	trivy image --cache-dir DIR --skip-db-update --offline-scan ...
package main

import (
	"embed"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	fixtures "github.com/aquasecurity/bolt-fixtures"
	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
)

//go:embed fixtures/*.yaml
var builtin embed.FS

func main() {
	cacheDir := flag.String("cache-dir", "", "Trivy cache directory to write (required); the DB goes to DIR/db")
	extra := flag.String("fixtures", "", "directory of bolt-fixtures YAML files to load instead of the built-in ones")
	valid := flag.Duration("valid-for", 24*time.Hour, "how far in the future metadata.json's NextUpdate lies")
	flag.Parse()
	if *cacheDir == "" {
		fmt.Fprintln(os.Stderr, "trivydbfixture: -cache-dir is required")
		os.Exit(2)
	}
	if err := write(*cacheDir, *extra, *valid); err != nil {
		fmt.Fprintf(os.Stderr, "trivydbfixture: %v\n", err)
		os.Exit(1)
	}
}

func write(cacheDir, fixtureDir string, valid time.Duration) error {
	var src fs.FS = builtin
	pattern := "fixtures/*.yaml"
	if fixtureDir != "" {
		src, pattern = os.DirFS(fixtureDir), "*.yaml"
	}
	files, err := materialize(src, pattern)
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(files[0]))

	// Trivy looks for CACHE/db/trivy.db and CACHE/db/metadata.json.
	dbDir := filepath.Join(cacheDir, "db")
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return err
	}
	dbPath := db.Path(dbDir)
	if err := os.Remove(dbPath); err != nil && !os.IsNotExist(err) {
		return err
	}
	loader, err := fixtures.New(dbPath, files)
	if err != nil {
		return fmt.Errorf("open %s: %w", dbPath, err)
	}
	if err := loader.Load(); err != nil {
		loader.Close()
		return fmt.Errorf("load fixtures into %s: %w", dbPath, err)
	}
	if err := loader.Close(); err != nil {
		return err
	}
	// Version must equal the schema Trivy was built against (db.SchemaVersion
	// of the trivy-db version trivy requires) or Trivy refuses the DB;
	// NextUpdate in the future keeps Trivy from calling the DB stale.
	now := time.Now().UTC()
	return metadata.NewClient(dbDir).Update(metadata.Metadata{
		Version:      db.SchemaVersion,
		NextUpdate:   now.Add(valid),
		UpdatedAt:    now,
		DownloadedAt: now,
	})
}

// materialize copies the fixture files to a temporary directory: the loader
// reads paths, and the built-in fixtures live in the binary.
func materialize(src fs.FS, pattern string) ([]string, error) {
	names, err := fs.Glob(src, pattern)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no fixture files match %s", pattern)
	}
	tmp, err := os.MkdirTemp("", "trivydbfixture-")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		b, err := fs.ReadFile(src, n)
		if err != nil {
			os.RemoveAll(tmp)
			return nil, err
		}
		p := filepath.Join(tmp, filepath.Base(n))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			os.RemoveAll(tmp)
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
