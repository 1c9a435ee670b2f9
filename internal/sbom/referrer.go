package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// emptyJSON is the OCI 1.1 empty config, "{}": an artifact has no image
// config, and registries that understand artifactType expect this one.
var emptyJSON = []byte("{}")

// Referrer returns an OCI 1.1 artifact manifest holding doc, a CycloneDX
// document, as its one layer, with subject the image (or index) it describes.
// Pushed next to the image, `oras discover` / `cosign tree` / the Referrers
// API list it under the image digest.
func Referrer(doc []byte, subject v1.Descriptor, created time.Time) (v1.Image, error) {
	return ReferrerOf(CycloneDX, doc, subject, created)
}

// ReferrerOf is Referrer for a document in format f: its media type is the
// layer's and the artifact's type.
func ReferrerOf(f Format, doc []byte, subject v1.Descriptor, created time.Time) (v1.Image, error) {
	mt := f.MediaType()
	layer := static.NewLayer(doc, types.MediaType(mt))
	ld, err := partial.Descriptor(layer)
	if err != nil {
		return nil, err
	}
	cd, _, err := v1.SHA256(bytes.NewReader(emptyJSON))
	if err != nil {
		return nil, err
	}
	subj := v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m := struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     types.MediaType   `json:"mediaType"`
		ArtifactType  string            `json:"artifactType"`
		Config        v1.Descriptor     `json:"config"`
		Layers        []v1.Descriptor   `json:"layers"`
		Subject       *v1.Descriptor    `json:"subject"`
		Annotations   map[string]string `json:"annotations"`
	}{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  mt,
		Config:        v1.Descriptor{MediaType: types.OCIEmptyJSON, Digest: cd, Size: int64(len(emptyJSON))},
		Layers:        []v1.Descriptor{{MediaType: ld.MediaType, Digest: ld.Digest, Size: ld.Size}},
		Subject:       &subj,
		// created from the source date: the same build gives the same digest.
		Annotations: map[string]string{"org.opencontainers.image.created": created.UTC().Format(time.RFC3339)},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&artifact{manifest: raw, layer: layer, layerDigest: ld.Digest})
}

type artifact struct {
	manifest    []byte
	layer       v1.Layer
	layerDigest v1.Hash
}

func (a *artifact) RawConfigFile() ([]byte, error)      { return emptyJSON, nil }
func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *artifact) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == a.layerDigest {
		return a.layer, nil
	}
	return nil, fmt.Errorf("sbom artifact has no blob %s", h)
}
