package volumes

import (
	"fmt"
	"strings"
	"testing"
)

const pinnedTrivy = "aquasec/trivy:0.67.2"

// TestCallersImageGetsItsOwnVolumes: a caller's builder or Trivy image
// runs the caller's code with the cache volumes mounted read and write;
// whatever it writes there (a compiled package under a build action's
// key, an extracted module, an empty vulnerability DB), another caller's
// go build or scan of the same namespace would trust. Before, the volume
// was <ns>-<kind> whoever mounted it. Such a runner now gets volumes of
// its own, which no namespace and no other runner names.
func TestCallersImageGetsItsOwnVolumes(t *testing.T) {
	own := func(ns string) []string {
		return []string{Name(ns, "gomod", ""), Name(ns, "gobuild", ""),
			Name(ns, "trivy-db-default", Image("", pinnedTrivy)), Name(ns, "trivy-db-default", Image(pinnedTrivy, pinnedTrivy)),
			Name(ns, "trivy-db-0123456789ab", "")}
	}
	victims := append(own(""), own("team-a")...)
	hostile, err := Builder(true, "hostile-container-id")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ns, builder, trivy string
	}{
		{"default namespace", "", hostile, "evil.example/trivy:1"},
		{"the victim's namespace", "team-a", hostile, "aquasec/trivy:latest"},
		{"a namespace spelling the victim's volume", "team-a-gomod", hostile, "evil.example/trivy:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, g := range []string{Name(tc.ns, "gomod", tc.builder), Name(tc.ns, "gobuild", tc.builder),
				Name(tc.ns, "trivy-db-default", Image(tc.trivy, pinnedTrivy))} {
				for _, v := range victims {
					if g == v {
						t.Errorf("a caller's image mounts volume %q, which go-image's own images use", g)
					}
				}
			}
		})
	}
	// The same builder keeps its volumes from one call to the next; two
	// builders share none.
	a, _ := Builder(true, "id-1")
	b, _ := Builder(true, "id-1")
	c, _ := Builder(true, "id-2")
	if Name("x", "gobuild", a) != Name("x", "gobuild", b) {
		t.Error("one builder got two build caches")
	}
	if Name("x", "gobuild", a) == Name("x", "gobuild", c) {
		t.Error("two builders share a build cache")
	}
	// An injected builder the engine gave no ID is never the golang image.
	if r, err := Builder(true, ""); err == nil || !strings.Contains(err.Error(), "go-image bug") {
		t.Errorf("Builder(injected, no ID) = %q, %v; want an error", r, err)
	}
	if r, err := Builder(false, ""); err != nil || r != "" {
		t.Errorf("Builder(not injected) = %q, %v; want the shared volumes", r, err)
	}
}

func TestCheckNamespace(t *testing.T) {
	for _, tc := range []struct {
		ns string
		ok bool
	}{
		{"", true},
		{"go-image", true},
		{"team-a.ci_2", true},
		{strings.Repeat("a", MaxNamespace), true},
		{strings.Repeat("a", MaxNamespace+1), false},
		{strings.Repeat("a", 1<<20), false},
		{"../team-b", false},
		{"team/b", false},
		{"-gomod", false},
		{"team b", false},
		{"team\nb", false},
		{"team\x1b[2Kb", false},
		{"é", false},
	} {
		err := CheckNamespace(tc.ns)
		if (err == nil) != tc.ok {
			t.Errorf("CheckNamespace(%.40q) = %v, want ok %v", tc.ns, err, tc.ok)
		}
		if err == nil {
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "cache namespace") || !strings.Contains(msg, "e.g. team-a") {
			t.Errorf("CheckNamespace(%.40q) = %v: want the argument and the fix named", tc.ns, err)
		}
		if msg := err.Error(); strings.ContainsAny(msg, "\n\x1b") || len(msg) > 400 {
			t.Errorf("CheckNamespace(%.40q): the error carries the input raw or whole (%d bytes)", tc.ns, len(msg))
		}
	}
}

func ExampleName() {
	fmt.Println(Name("", "gobuild", ""))
	fmt.Println(Name("team-a", "gomod", ""))
	fmt.Println(Name("team-a", "gomod", "builder some-container-id"))
	// Output:
	// go-image-gobuild
	// team-a-gomod
	// team-a-gomod-by-1dc848579e19f731
}
