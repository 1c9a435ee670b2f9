// Package buildcachetest serves the registries that the build cache's
// tests run against: go-containerregistry's registry in process, with its
// blobs on disk where a test can damage them.
package buildcachetest

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RawBlobs keeps blobs in Dir and serves them as they are, unverified, as a
// hostile or broken registry would: go-containerregistry's own disk handler
// hides a damaged blob (404), which would test an honest registry only.
type RawBlobs struct{ Dir string }

var _ registry.BlobStatHandler = RawBlobs{}

// Path is where the blob h lives; write there to damage it.
func (b RawBlobs) Path(h v1.Hash) string { return filepath.Join(b.Dir, h.Algorithm, h.Hex) }

// Stat implements registry.BlobStatHandler.
func (b RawBlobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	st, err := os.Stat(b.Path(h))
	if os.IsNotExist(err) {
		return 0, registry.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// Get implements registry.BlobHandler.
func (b RawBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	f, err := os.Open(b.Path(h))
	if os.IsNotExist(err) {
		return nil, registry.ErrNotFound
	}
	return f, err
}

// Put implements registry.BlobPutHandler (the registry has checked the
// digest).
func (b RawBlobs) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(b.Path(h)), 0o755); err != nil {
		return err
	}
	return os.WriteFile(b.Path(h), data, 0o644)
}
