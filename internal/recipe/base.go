package recipe

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// The base image is recorded as manifest annotations (OCI image spec,
// annotations.md), on every platform's image and on the index, so a scanner
// or an admission policy can tell what the image was built on.
const (
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// BaseName is the name a base reference is recorded under: the reference as
// given, without a digest, with Docker Hub spelled out the way Docker and
// Dagger write it (alpine:3.22 is docker.io/library/alpine:3.22). Both
// executors record the same name for the same input, which the digest
// parity between them relies on.
func BaseName(ref string) (string, error) {
	named, _, _ := strings.Cut(ref, "@")
	r, err := name.ParseReference(named)
	if err != nil {
		return "", fmt.Errorf("base image %q: %w (want e.g. alpine:3.22 or registry.example/mirror/alpine:3.22)", ref, err)
	}
	repo := r.Context().RepositoryStr()
	reg := r.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	out := reg + "/" + repo
	if t, ok := r.(name.Tag); ok {
		out += ":" + t.TagStr()
	}
	return out, nil
}

// BaseDigest is the digest a base reference pins, "" when it pins none
// (alpine:3.22@sha256:… pins; alpine:3.22 is resolved when pulled).
func BaseDigest(ref string) string {
	_, d, _ := strings.Cut(ref, "@")
	return d
}
