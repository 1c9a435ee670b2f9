package standin

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Trivy's DB artifact, as ghcr.io/aquasecurity/trivy-db:2 publishes it:
// one gzipped tar of trivy.db and metadata.json, titled db.tar.gz.
const (
	TrivyDBMediaType       = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"
	TrivyDBConfigMediaType = "application/vnd.aquasec.trivy.config.v1+json"
	TrivyDBRepository      = "aquasecurity/trivy-db"
	TrivyDBTag             = "2"
)

// TrivyDB packs a Trivy cache directory's DB (DIR/db/trivy.db and
// DIR/db/metadata.json) as Trivy's DB artifact, for `trivy
// --db-repository` to download.
func TrivyDB(cacheDir string) (v1.Image, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"trivy.db", "metadata.json"} {
		data, err := os.ReadFile(filepath.Join(cacheDir, "db", name))
		if err != nil {
			return nil, fmt.Errorf("trivy DB: %w", err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, TrivyDBConfigMediaType)
	return mutate.Append(img, mutate.Addendum{
		Layer:       static.NewLayer(buf.Bytes(), TrivyDBMediaType),
		Annotations: map[string]string{"org.opencontainers.image.title": "db.tar.gz"},
	})
}
