package imagefile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"dagger/go-image/internal/blob"
	"dagger/go-image/internal/limits"
)

// ErrInconsistent is wrapped when an image tarball's index.json and
// manifest.json name different images: go-image's gates read index.json,
// Trivy and `docker load` read manifest.json, and each would judge
// another image.
var ErrInconsistent = errors.New("index.json and manifest.json name different images")

// Read is ReadContext without a deadline, under the default limits.
func Read(p string) (v1.Image, error) { return ReadContext(context.Background(), p) }

// ReadContext opens the one image of an image tarball (an OCI image layout
// tar, with or without manifest.json, or a docker-save tar) or of an OCI
// layout directory, under ctx's limits (internal/limits).
//
// Everything small is read now, bounded and checked against the digest
// and size that name it: index.json, nested indexes (to a depth limit),
// the manifest and the config. When both index.json and manifest.json are
// present they must name the same image. Layers are read when used: a
// layer's size is checked when it is opened, its digest while Compressed
// streams, and what Uncompressed yields against its diff ID by every
// reader of contents (internal/imagefs): a lie fails the read, never
// passes it.
func ReadContext(ctx context.Context, p string) (v1.Image, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", p, err)
	}
	var src source
	switch {
	case st.IsDir():
		root, err := os.OpenRoot(p)
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w", p, err)
		}
		// The root stays open for the image's lazy layer reads.
		src = &dirSource{dir: p, root: root}
	case st.Mode().IsRegular():
		if src, err = indexTar(ctx, p); err != nil {
			return nil, fmt.Errorf("read image %s: %w", p, err)
		}
	default:
		return nil, fmt.Errorf("read image %s: not a regular file or directory (%s): pass an image tarball", p, st.Mode().Type())
	}
	img, err := read(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", p, err)
	}
	return img, nil
}

func read(ctx context.Context, src source) (v1.Image, error) {
	_, hasIndex := src.size("index.json")
	_, hasManifest := src.size("manifest.json")
	switch {
	case hasIndex:
		img, err := fromIndex(ctx, src)
		if err != nil {
			return nil, err
		}
		if hasManifest {
			if err := sameImage(ctx, src, img); err != nil {
				return nil, err
			}
		}
		return img, nil
	case hasManifest:
		return fromDockerSave(ctx, src)
	}
	return nil, errors.New("neither index.json nor manifest.json inside: not an image tarball or OCI layout")
}

// small reads the file name of src whole, refusing it unasked when it is
// larger than limit.
func small(src source, name string, limit int64, k limits.Kind) ([]byte, error) {
	rc, n, err := src.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if err := limits.Check(n, limit, k, name); err != nil {
		return nil, err
	}
	return limits.ReadAll(rc, limit, k, name)
}

// blobBytes reads the blob d names, of the size it declares, checked
// against both, refusing it unread when it is larger than limit.
func blobBytes(src source, d v1.Descriptor, limit int64, k limits.Kind, what string) ([]byte, error) {
	what = fmt.Sprintf("%s %s", what, d.Digest)
	if err := limits.Check(d.Size, limit, k, what); err != nil {
		return nil, err
	}
	name := blobPath(d.Digest)
	if err := validDigest(d.Digest, what); err != nil {
		return nil, err
	}
	rc, n, err := src.open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rc.Close()
	if n != d.Size {
		return nil, blob.SizeError(what, d.Size, n)
	}
	b, err := limits.ReadAll(rc, limit, k, what)
	if err != nil {
		return nil, err
	}
	if err := blob.Check(b, d.Digest, d.Size, what); err != nil {
		return nil, err
	}
	return b, nil
}

func validDigest(d v1.Hash, what string) error {
	if d.Algorithm != "sha256" || len(d.Hex) != 64 || strings.Trim(d.Hex, "0123456789abcdef") != "" {
		return fmt.Errorf("%s: digest %q: want sha256:<64 hex digits>", what, d)
	}
	return nil
}

// fromIndex follows index.json, through nested indexes, to its one image.
func fromIndex(ctx context.Context, src source) (v1.Image, error) {
	lim := limits.From(ctx)
	raw, err := small(src, "index.json", lim.Manifest, limits.Manifest)
	if err != nil {
		return nil, err
	}
	what := "index.json"
	for depth := 0; ; depth++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var idx v1.IndexManifest
		if err := json.Unmarshal(raw, &idx); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if len(idx.Manifests) != 1 {
			return nil, fmt.Errorf("%s holds %d manifests, want exactly one image (check a multi-platform release one platform at a time)", what, len(idx.Manifests))
		}
		d := idx.Manifests[0]
		switch {
		case d.MediaType.IsIndex():
			if depth+1 > lim.IndexDepth {
				return nil, &limits.Error{Kind: limits.IndexDepth, What: "nested index " + d.Digest.String(), Limit: int64(lim.IndexDepth)}
			}
			if raw, err = blobBytes(src, d, lim.Manifest, limits.Manifest, "nested index"); err != nil {
				return nil, err
			}
			if err := sameMediaType(raw, d); err != nil {
				return nil, err
			}
			what = "nested index " + d.Digest.String()
		case d.MediaType.IsImage():
			return fromManifest(ctx, src, d)
		default:
			return nil, fmt.Errorf("%s names %s of media type %q: not an image or an index", what, d.Digest, d.MediaType)
		}
	}
}

// sameMediaType refuses a manifest whose own mediaType contradicts the
// descriptor that named it: an index read as an image, or the reverse.
func sameMediaType(raw []byte, d v1.Descriptor) error {
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %w", d.Digest, err)
	}
	if m.MediaType != "" && m.MediaType != d.MediaType {
		return fmt.Errorf("%s says it is %s, the descriptor naming it says %s: re-export the image", d.Digest, m.MediaType, d.MediaType)
	}
	return nil
}

func fromManifest(ctx context.Context, src source, d v1.Descriptor) (v1.Image, error) {
	lim := limits.From(ctx)
	raw, err := blobBytes(src, d, lim.Manifest, limits.Manifest, "manifest")
	if err != nil {
		return nil, err
	}
	if err := sameMediaType(raw, d); err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	if len(m.Layers) > lim.Layers {
		return nil, &limits.Error{Kind: limits.Layers, What: "manifest " + d.Digest.String(), Limit: int64(lim.Layers), Got: int64(len(m.Layers))}
	}
	rawCfg, err := blobBytes(src, m.Config, lim.Config, limits.Config, "config")
	if err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("config %s lists %d diff IDs for the manifest's %d layers: the image is corrupt; rebuild it", m.Config.Digest, len(cf.RootFS.DiffIDs), len(m.Layers))
	}
	img := &image{raw: raw, digest: d.Digest, mediaType: d.MediaType, manifest: m, rawConfig: rawCfg}
	for i, ld := range m.Layers {
		what := fmt.Sprintf("layer %d (%s)", i+1, ld.Digest)
		if err := validDigest(ld.Digest, what); err != nil {
			return nil, err
		}
		if !layerType(ld.MediaType) {
			return nil, fmt.Errorf("%s: media type %q: go-image reads tar, tar+gzip and tar+zstd layers", what, ld.MediaType)
		}
		n, ok := src.size(blobPath(ld.Digest))
		if !ok {
			return nil, fmt.Errorf("%s: not in %s: the image is incomplete; re-export it", what, src)
		}
		if n != ld.Size {
			// Known from the archive's index: refused before any read.
			return nil, blob.SizeError(what, ld.Size, n)
		}
		img.layers = append(img.layers, &layer{src: src, desc: ld, diffID: cf.RootFS.DiffIDs[i], what: what})
	}
	return img, nil
}

func layerType(mt types.MediaType) bool {
	switch mt {
	case types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer, types.DockerLayer, types.DockerUncompressedLayer, types.OCIRestrictedLayer, types.OCIUncompressedRestrictedLayer:
		return true
	}
	return false
}

// dockerManifest is manifest.json: docker save's list of images.
type dockerManifest []struct {
	Config string
	Layers []string
}

func readDockerManifest(ctx context.Context, src source) (dockerManifest, error) {
	raw, err := small(src, "manifest.json", limits.From(ctx).Manifest, limits.Manifest)
	if err != nil {
		return nil, err
	}
	var dm dockerManifest
	if err := json.Unmarshal(raw, &dm); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if len(dm) != 1 {
		return nil, fmt.Errorf("manifest.json lists %d images, want exactly one: save one image per tarball", len(dm))
	}
	return dm, nil
}

// sameImage refuses an archive whose manifest.json names another config or
// other layers than the image index.json leads to.
func sameImage(ctx context.Context, src source, img v1.Image) error {
	dm, err := readDockerManifest(ctx, src)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInconsistent, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	d, _ := img.Digest()
	fix := "tools disagree on which one they read (go-image: index.json; Trivy and docker load: manifest.json); re-export the image with `go-image build --output` or `docker save`"
	if got, want := clean(dm[0].Config), blobPath(m.Config.Digest); got != want {
		return fmt.Errorf("%w: index.json leads to image %s with config %s, manifest.json names config %q: %s", ErrInconsistent, d, want, got, fix)
	}
	if len(dm[0].Layers) != len(m.Layers) {
		return fmt.Errorf("%w: index.json leads to image %s of %d layers, manifest.json names %d: %s", ErrInconsistent, d, len(m.Layers), len(dm[0].Layers), fix)
	}
	for i, l := range dm[0].Layers {
		if got, want := clean(l), blobPath(m.Layers[i].Digest); got != want {
			return fmt.Errorf("%w: layer %d of image %s is %s, manifest.json names %q: %s", ErrInconsistent, i+1, d, want, got, fix)
		}
	}
	return nil
}

// fromDockerSave reads a docker-save tarball without index.json (Docker
// before 25) through go-containerregistry's tarball package, once the
// archive index has bounded every member it reads: manifest.json and the
// config are checked against the limits here, the layers are hashed by
// tarball as it reads them, and their diff IDs by every reader of their
// contents (internal/imagefs).
func fromDockerSave(ctx context.Context, src source) (v1.Image, error) {
	t, ok := src.(*tarSource)
	if !ok {
		return nil, fmt.Errorf("%s has manifest.json but no index.json: extract a docker save tarball only to push it; pass the tarball itself", src)
	}
	lim := limits.From(ctx)
	dm, err := readDockerManifest(ctx, src)
	if err != nil {
		return nil, err
	}
	if n, ok := src.size(clean(dm[0].Config)); !ok {
		return nil, fmt.Errorf("manifest.json names config %q, which the archive does not hold", dm[0].Config)
	} else if err := limits.Check(n, lim.Config, limits.Config, "config "+dm[0].Config); err != nil {
		return nil, err
	}
	if len(dm[0].Layers) > lim.Layers {
		return nil, &limits.Error{Kind: limits.Layers, What: "manifest.json", Limit: int64(lim.Layers), Got: int64(len(dm[0].Layers))}
	}
	for _, l := range dm[0].Layers {
		if _, ok := src.size(clean(l)); !ok {
			return nil, fmt.Errorf("manifest.json names layer %q, which the archive does not hold", l)
		}
	}
	img, err := tarball.ImageFromPath(t.path, nil)
	if err != nil {
		return nil, err
	}
	return img, nil
}

// image is an image read from a source: manifest and config in memory,
// checked; layers read from the source when used.
type image struct {
	raw       []byte
	digest    v1.Hash
	mediaType types.MediaType
	manifest  *v1.Manifest
	rawConfig []byte
	layers    []*layer
}

var _ v1.Image = (*image)(nil)

func (i *image) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *image) Digest() (v1.Hash, error)            { return i.digest, nil }
func (i *image) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *image) Size() (int64, error)                { return int64(len(i.raw)), nil }
func (i *image) Manifest() (*v1.Manifest, error)     { return i.manifest.DeepCopy(), nil }
func (i *image) ConfigName() (v1.Hash, error)        { return i.manifest.Config.Digest, nil }
func (i *image) RawConfigFile() ([]byte, error)      { return i.rawConfig, nil }

func (i *image) ConfigFile() (*v1.ConfigFile, error) {
	return v1.ParseConfigFile(bytes.NewReader(i.rawConfig))
}

func (i *image) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(i.layers))
	for j, l := range i.layers {
		out[j] = l
	}
	return out, nil
}

func (i *image) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.layers {
		if l.desc.Digest == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("blob %s: not a layer of image %s", h, i.digest)
}

func (i *image) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.layers {
		if l.diffID == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("diff ID %s: not a layer of image %s", h, i.digest)
}

// layer is one layer of an image read from a source.
type layer struct {
	src    source
	desc   v1.Descriptor
	diffID v1.Hash
	what   string
}

var _ v1.Layer = (*layer)(nil)

func (l *layer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *layer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *layer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *layer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// open opens the blob, refusing it when its size is not the manifest's.
func (l *layer) open() (io.ReadCloser, error) {
	rc, n, err := l.src.open(blobPath(l.desc.Digest))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.what, err)
	}
	if n != l.desc.Size {
		rc.Close()
		return nil, blob.SizeError(l.what, l.desc.Size, n)
	}
	return rc, nil
}

// Compressed streams the blob, failing the read past its declared size or,
// at its end, on a digest other than the manifest's.
func (l *layer) Compressed() (io.ReadCloser, error) {
	rc, err := l.open()
	if err != nil {
		return nil, err
	}
	v, err := blob.Verify(rc, l.desc.Digest, l.desc.Size, l.what)
	if err != nil {
		rc.Close()
		return nil, err
	}
	// Still a blob.Verifying: a reader that measures it need not hash it
	// again.
	return struct {
		*blob.Verifier
		io.Closer
	}{v, rc}, nil
}

// Uncompressed decompresses the blob (gzip and zstd are told from their
// magic, as containerd does). It does not hash the compressed bytes: what
// it yields is checked against the config's diff ID by every reader of
// layer contents (internal/imagefs, internal/size), whatever the image's
// source, and the diff ID is what binds the contents to the image. The
// blob's size was checked when it was opened.
func (l *layer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.open()
	if err != nil {
		return nil, err
	}
	u, err := blob.Decompress(io.LimitReader(rc, l.desc.Size))
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("%s: %w", l.what, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{u, closers{u, rc}}, nil
}

type closers []io.Closer

func (c closers) Close() error {
	var errs []error
	for _, x := range c {
		errs = append(errs, x.Close())
	}
	return errors.Join(errs...)
}
