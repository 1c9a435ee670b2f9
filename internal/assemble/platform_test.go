package assemble_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"dagger/go-image/internal/assemble"
	"dagger/go-image/internal/hostile"
	"dagger/go-image/internal/imagetest"
)

// TestBasePlatform: the base's files (its shell, its CA tools) must be for
// the target platform. A base for another architecture is refused, and so
// is one whose config names no OS or architecture: the check used to be
// skipped for it, so a base that blanked the fields passed for any target.
func TestBasePlatform(t *testing.T) {
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	for _, tc := range []struct {
		name, os, arch string
		err            string // "" passes
	}{
		{"target", "linux", runtime.GOARCH, ""},
		{"other architecture", "linux", other, "base image is linux/" + other},
		{"other OS", "windows", runtime.GOARCH, "base image is windows/"},
		{"no OS", "", runtime.GOARCH, "names no OS or architecture"},
		{"no architecture", "linux", "", "names no OS or architecture"},
		{"neither", "", "", "names no OS or architecture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := hostile.BaseEnv(t, runtime.GOARCH)
			cf, err := base.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			cf = cf.DeepCopy()
			cf.OS, cf.Architecture = tc.os, tc.arch
			if base, err = mutate.ConfigFile(base, cf); err != nil {
				t.Fatal(err)
			}
			o := imagetest.Options()
			o.Platform = "linux/" + runtime.GOARCH
			_, err = assemble.Image(assemble.Base{Image: base, Name: "registry.example/base:1"}, o, []byte("binary"))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("a base for the target was refused: %v", err)
			case tc.err != "" && err == nil:
				t.Fatalf("a base %s/%s for target linux/%s was accepted", tc.os, tc.arch, runtime.GOARCH)
			case tc.err != "" && !strings.Contains(err.Error(), tc.err):
				t.Fatalf("error %q does not say %q", err, tc.err)
			}
		})
	}
}
