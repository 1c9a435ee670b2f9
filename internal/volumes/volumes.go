// Package volumes names the Dagger executor's cache volumes.
//
// A cache volume outlives the call that fills it and is mounted, read and
// write, by every later call of the module on the engine that names it:
// whatever a container writes there (a compiled package in the build
// cache, an extracted module, a vulnerability DB) the next call's go build
// or Trivy trusts without checking. go-image's own images (the golang
// builder of a Go release, the pinned Trivy image) only write what the go
// command and Trivy compute. A caller's builder or Trivy image runs the
// caller's code with the volumes mounted, so it gets volumes of its own:
// their names carry a hash of that code's identity, and a namespace alone
// (which any caller can name) cannot reach another caller's volumes.
package volumes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
)

// DefaultNamespace prefixes the volumes when the caller names no
// namespace.
const DefaultNamespace = "go-image"

// MaxNamespace bounds a namespace, in bytes.
const MaxNamespace = 64

var namespaceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// CheckNamespace refuses a namespace that is not a short name of letters,
// digits, '.', '_' and '-' ("" is the default).
func CheckNamespace(ns string) error {
	if ns == "" {
		return nil
	}
	if len(ns) > MaxNamespace || !namespaceRE.MatchString(ns) {
		return fmt.Errorf("cache namespace %q: want at most %d letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. team-a); it prefixes the names of the cache volumes", truncate(ns, 80), MaxNamespace)
	}
	return nil
}

// Name is the volume kind (gomod, gobuild, trivy-db-…) of namespace ns
// ("" for DefaultNamespace) for the containers of runner: "" for
// go-image's own images, else the identity of the caller's image that
// mounts it (Builder, Image), which gets volumes no other runner shares.
func Name(ns, kind, runner string) string {
	if ns == "" {
		ns = DefaultNamespace
	}
	name := ns + "-" + kind
	if runner != "" {
		sum := sha256.Sum256([]byte(runner))
		name += "-by-" + hex.EncodeToString(sum[:8])
	}
	return name
}

// Builder is the runner of the builder's volumes: "" for go-image's
// golang image (injected false), else the injected builder's ID
// (Container.ID, the same for the same container from one call to the
// next). An injected builder without an ID is an error: it would share
// the golang image's volumes.
func Builder(injected bool, id string) (string, error) {
	if !injected {
		return "", nil
	}
	if id == "" {
		return "", fmt.Errorf("builder: the engine gave no ID for the injected builder, which its cache volumes are named after (go-image bug)")
	}
	return "builder " + id, nil
}

// Image is the runner of the volumes an image mounts: "" for the image
// go-image pins (ref "" or pinned), else the reference, whose code is
// the caller's.
func Image(ref, pinned string) string {
	if ref == "" || ref == pinned {
		return ""
	}
	return "image " + ref
}

// truncate is s cut to n bytes, marked, for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
