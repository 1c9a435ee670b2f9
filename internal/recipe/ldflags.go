package recipe

import (
	"fmt"
	"strings"
)

// The user's linker flags come from a flag or from go-image.yaml, which
// arrives with the code under review. The Go linker takes flags that
// reach the machine: -o writes the binary to any path the user can write
// (a tool on PATH, go-image's own Trivy), -cpuprofile and -memprofile
// create files anywhere, -importcfg and -L read them, -extld runs a
// program. So the flags are checked as the linker will read them, against
// the few a service's build needs, not against a list of known dangers.

// allowedLdflags are the linker flags a recipe may pass, by whether each
// takes a value: -X sets a string variable (the version, the commit), -s
// and -w strip (go-image sets both already), -B sets the build ID note,
// -checklinkname=0 lets an old dependency's go:linkname link, -buildid sets
// the build ID (reproducible-build recipes pass -buildid=), and
// -extldflags is inert: with CGO_ENABLED=0 the linker links internally and
// runs no external linker to hand them to (-linkmode and -extld, which
// could make it run one, stay refused). Makefiles of Kubernetes projects
// carry -extldflags "-static"; refusing it would only make users edit it out.
var allowedLdflags = map[string]bool{"X": true, "s": false, "w": false, "B": true, "checklinkname": false, "buildid": true, "extldflags": true}

// ldflagsHelp is what the errors list.
const ldflagsHelp = "go-image passes only -X importpath.name=value, -s, -w, -B, -buildid, -checklinkname and -extldflags (inert without cgo) to the linker"

// checkLdflags reads the user's linker flags as go build and the linker
// will: go build splits -ldflags on spaces (and '\t', '\n', '\r') and
// keeps '...' and "..." together, the linker parses the fields with
// package flag, where a flag that takes a value takes the next field
// whatever it is, and the first field that is not a flag ends the flags.
// Each field must be an allowed flag or its value.
func checkLdflags(flags []string) error {
	type field struct{ text, entry string }
	var fields []field
	for _, f := range flags {
		words, err := splitQuoted(f)
		if err != nil {
			return fmt.Errorf("ldflag %q: %v: go build would split it differently from how it reads: balance the quotes", f, err)
		}
		for _, w := range words {
			fields = append(fields, field{w, f})
		}
	}
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(f.text, "-"), "-"), "=")
		if !strings.HasPrefix(f.text, "-") || name == "" {
			return fmt.Errorf("ldflag %q: %q is not a linker flag: the linker would stop reading flags there and take the rest as files; %s", f.entry, f.text, ldflagsHelp)
		}
		takes, ok := allowedLdflags[name]
		switch {
		case !ok && (name == "linkmode" || strings.HasPrefix(name, "extld")):
			return fmt.Errorf("ldflag %q: external linking needs cgo, and go-image builds static binaries with CGO_ENABLED=0", f.entry)
		case !ok:
			return fmt.Errorf("ldflag %q: linker flag -%s is not allowed (a linker flag can write, read or run files on the machine that builds, e.g. -o, -cpuprofile, -importcfg, -extld): %s", f.entry, name, ldflagsHelp)
		}
		if !takes {
			if hasValue && value != "true" && value != "false" && value != "0" && value != "1" {
				return fmt.Errorf("ldflag %q: -%s takes true or false, not %q", f.entry, name, value)
			}
			continue
		}
		if !hasValue {
			if i+1 == len(fields) {
				return fmt.Errorf("ldflag %q: -%s needs a value, e.g. -X main.commit=abc123", f.entry, name)
			}
			i++
			value = fields[i].text
		}
		if name == "X" {
			v, _, ok := strings.Cut(value, "=")
			if !ok || !versionVarRE.MatchString(v) {
				return fmt.Errorf("ldflag %q: -X %q: want importpath.name=value, e.g. -X main.commit=abc123", f.entry, value)
			}
			if err := checkXTarget(v); err != nil {
				return fmt.Errorf("ldflag %q: %w", f.entry, err)
			}
		}
	}
	return nil
}

// splitQuoted splits s into fields as go build splits -ldflags
// (cmd/internal/quoted.Split): on ' ', '\t', '\n' and '\r', with a field
// that starts with ' or " running to the same quote, unescaped.
func splitQuoted(s string) ([]string, error) {
	var out []string
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(s) > 0 {
		for len(s) > 0 && space(s[0]) {
			s = s[1:]
		}
		if len(s) == 0 {
			break
		}
		if q := s[0]; q == '"' || q == '\'' {
			end := strings.IndexByte(s[1:], q)
			if end < 0 {
				return nil, fmt.Errorf("unterminated %c string", q)
			}
			out = append(out, s[1:1+end])
			s = s[end+2:]
			continue
		}
		i := 0
		for i < len(s) && !space(s[i]) {
			i++
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out, nil
}

// checkXTarget refuses an -X of the runtime's own strings: the linker
// writes runtime.buildVersion and runtime.modinfo into the binary's build
// info, which Trivy, the SBOM and the provenance read as the Go version
// and the module list. -X runtime.buildVersion=go1.99.0 made a binary of
// a vulnerable toolchain scan clean; -X runtime.modinfo= hid every
// dependency from the scan.
func checkXTarget(sym string) error {
	pkg := sym[:strings.LastIndex(sym, ".")]
	if pkg == "runtime" || strings.HasPrefix(pkg, "runtime/") {
		return fmt.Errorf("-X %s sets the Go runtime's own data (runtime.buildVersion and runtime.modinfo are the Go version and the module list in the binary's build info, what the scan, the SBOM and the provenance read): set a variable of your own package, e.g. -X main.commit=abc123", sym)
	}
	return nil
}
