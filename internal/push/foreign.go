package push

import (
	"bytes"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// distributable refuses an artifact that names a layer the push would not
// carry: a non-distributable ("foreign") layer, which
// go-containerregistry does not upload, or any descriptor with URLs,
// which containerd fetches from those URLs before the registry. Either
// way the released image would depend on a host the base image's author
// chose, not on the registry the gates' image was pushed to. Index
// children are checked to the depth of what was built (two levels).
func distributable(a Artifact) error {
	return checkDistributable(a, 0)
}

func checkDistributable(a Artifact, depth int) error {
	mt, err := a.MediaType()
	if err != nil {
		return err
	}
	raw, err := a.RawManifest()
	if err != nil {
		return err
	}
	if mt.IsIndex() {
		idx, ok := a.(v1.ImageIndex)
		if !ok || depth > 2 {
			return fmt.Errorf("an index nested %d deep: go-image pushes the indexes it builds, one level", depth)
		}
		im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return err
		}
		for _, d := range im.Manifests {
			if err := refuseForeign(d, "manifest"); err != nil {
				return err
			}
			var child Artifact
			switch {
			case d.MediaType.IsIndex():
				child, err = idx.ImageIndex(d.Digest)
			default:
				child, err = idx.Image(d.Digest)
			}
			if err != nil {
				return err
			}
			if err := checkDistributable(child, depth+1); err != nil {
				return fmt.Errorf("platform image %s: %w", d.Digest, err)
			}
		}
		return nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	if err := refuseForeign(m.Config, "config"); err != nil {
		return err
	}
	for i, l := range m.Layers {
		if err := refuseForeign(l, fmt.Sprintf("layer %d", i+1)); err != nil {
			return err
		}
	}
	return nil
}

func refuseForeign(d v1.Descriptor, what string) error {
	fix := "go-image pushes every blob it gated, so the image never depends on another host; rebuild the base image with ordinary layers (crane mutate, or docker build FROM it) or pick another base"
	switch {
	case !d.MediaType.IsDistributable():
		return fmt.Errorf("%s %s is non-distributable (%s): it would not be pushed, and every node would fetch it from elsewhere: not pushed; %s", what, d.Digest, d.MediaType, fix)
	case len(d.URLs) > 0:
		return fmt.Errorf("%s %s names %d URL(s): every node pulling the image would fetch it from there first: not pushed; %s", what, d.Digest, len(d.URLs), fix)
	}
	return nil
}
