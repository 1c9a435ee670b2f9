package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"

	"dagger/go-image/internal/push"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
)

// NameTemplate in an address is replaced by each binary's name:
// ghcr.io/acme/{name}:1.2.3 gives every binary its repository.
const NameTemplate = "{name}"

// Addresses gives each binary its addresses from the --address values:
// an address with {name} is every binary's, with the binary's name in
// it; name=REF is that binary's alone; a plain address is the only
// binary's, and an error when there are several (they cannot all be
// one image). Every binary must get at least one address. Each address
// is checked later, as a single release checks it (push.ParseAddresses).
func Addresses(specs []string, names []string) (map[string][]string, error) {
	if len(specs) == 0 {
		return nil, errors.New("no address: give one per binary, e.g. --address ghcr.io/acme/{name}:1.2.3")
	}
	// The names are checked where they are made (plan, recipe); checked
	// again here, where one becomes part of a reference.
	for _, n := range names {
		if err := recipe.CheckName(n); err != nil {
			return nil, err
		}
	}
	out := map[string][]string{}
	add := func(name, ref string) {
		if !slices.Contains(out[name], ref) {
			out[name] = append(out[name], ref)
		}
	}
	for _, spec := range specs {
		if _, ref, ok := forBinary(spec); ok {
			spec = ref
		}
		if err := templateHost(spec); err != nil {
			return nil, err
		}
	}
	for _, spec := range specs {
		if name, ref, ok := forBinary(spec); ok {
			if !slices.Contains(names, name) {
				return nil, fmt.Errorf("address %q is for binary %q, which this release does not build (it builds %s)", spec, name, strings.Join(names, ", "))
			}
			if ref == "" {
				return nil, fmt.Errorf("address %q: want %s=REGISTRY/REPO:TAG", spec, name)
			}
			add(name, strings.ReplaceAll(ref, NameTemplate, name))
			continue
		}
		switch {
		case strings.Contains(spec, NameTemplate):
			for _, n := range names {
				add(n, strings.ReplaceAll(spec, NameTemplate, n))
			}
		case len(names) == 1:
			add(names[0], spec)
		default:
			return nil, fmt.Errorf("address %q has no %s, but this release builds %d binaries (%s), which cannot share one repository and tag: write REGISTRY/REPO/%s:TAG, or one NAME=REGISTRY/REPO:TAG per binary", spec, NameTemplate, len(names), strings.Join(names, ", "), NameTemplate)
		}
	}
	for _, n := range names {
		if len(out[n]) == 0 {
			return nil, fmt.Errorf("binary %s has no address: add --address %s=REGISTRY/REPO:TAG, or use %s in an address", n, n, NameTemplate)
		}
	}
	// One tag for two binaries is two images racing for it, the last
	// tagged winning: a source that adds a main package named after
	// another binary's NAME=REF address (cmd/gateway, when api's is
	// reg/acme/gateway:1 and {name} gives gateway the same) would replace
	// that binary's image. Compared as the registry sees them (x:1 is
	// index.docker.io/library/x:1).
	owner := map[string]string{}
	for _, n := range names {
		for _, ref := range out[n] {
			key := ref
			if r, err := name.ParseReference(ref); err == nil {
				key = r.Name()
			}
			if prev, dup := owner[key]; dup && prev != n {
				return nil, fmt.Errorf("%s is the address of both %s and %s, which would race for one tag: give each binary its own, e.g. REGISTRY/REPO/%s:TAG", ref, prev, n, NameTemplate)
			}
			owner[key] = n
		}
	}
	return out, nil
}

// templateHost refuses {name} in an address's registry host: the source
// names the binaries (their directories), so it would pick the registry,
// and the explicit credentials are sent to every address's registry (a
// directory named evil.example made {name}/acme/app:1 a push to
// evil.example). Checked by position, not as a reference parses: a name
// without a dot leaves the first element a Docker Hub path, one with a
// dot makes it a host.
func templateHost(ref string) error {
	if first, _, ok := strings.Cut(ref, "/"); ok && strings.Contains(first, NameTemplate) {
		return fmt.Errorf("address %q: %s in the registry host would let the source's directory names choose the registry your credentials are sent to: put %s in the repository, e.g. ghcr.io/acme/%s:1.2.3", ref, NameTemplate, NameTemplate, NameTemplate)
	}
	return nil
}

// forBinary splits a NAME=REF address; a reference has no '=', and a
// binary name no '/', ':' or '@'.
func forBinary(spec string) (name, ref string, ok bool) {
	name, ref, ok = strings.Cut(spec, "=")
	return name, ref, ok && !strings.ContainsAny(name, "/:@")
}

// CheckAddresses checks the --address values as references before
// anything is built, with a stand-in name where {name} or NAME= will
// put each binary's (Addresses does that once the binaries are known).
func CheckAddresses(specs []string, insecure bool) error {
	for _, spec := range specs {
		if _, ref, ok := forBinary(spec); ok {
			spec = ref
		}
		if err := templateHost(spec); err != nil {
			return err
		}
		if _, err := push.ParseAddresses([]string{strings.ReplaceAll(spec, NameTemplate, "name")}, insecure); err != nil {
			return err
		}
	}
	return nil
}

// Named is one binary's release in a release of several.
type Named struct {
	Name    string
	Request Request
}

// RunAll releases several binaries, all or nothing: every image of every
// binary is built and gated (jobs at a time, default the core count);
// only if every one passed is any pushed. Then every artifact is uploaded
// by digest and signed, and only when all of that succeeded are the tags
// moved, so that a failed upload of the third binary leaves no tag of
// the first two pointing at a release that did not happen. The results
// are in reqs' order, each as Run returns it.
func RunAll(ctx context.Context, reqs []Named, jobs int) ([]*Result, error) {
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	results := make([]*Result, len(reqs))
	errs := make([]error, len(reqs))
	var g errgroup.Group
	g.SetLimit(jobs)
	for i, n := range reqs {
		g.Go(func() error {
			results[i], errs[i] = prepare(ctx, n.Request)
			return nil
		})
	}
	_ = g.Wait()
	var stopped []error
	for i, err := range errs {
		if err != nil {
			stopped = append(stopped, fmt.Errorf("%s: %w", reqs[i].Name, err))
		}
	}
	if len(stopped) > 0 {
		return results, &StoppedError{Of: len(reqs), Errs: stopped}
	}
	for i, n := range reqs {
		if err := publish(ctx, n.Request, results[i]); err != nil {
			return results, leftBehind(reqs, results, n.Name, err)
		}
	}
	for i, n := range reqs {
		if err := tag(ctx, n.Request, results[i]); err != nil {
			return results, leftBehind(reqs, results, n.Name, err)
		}
	}
	return results, nil
}

// PartialError is a release of several binaries that failed after it
// wrote to the registry: an upload, a signature or a tag failed for
// Failed. The registry is not rolled back (a registry need not allow
// deletes, and a tag's previous target is not known), so the error says
// exactly what is there now: the tags moved, and the images uploaded by
// digest that no tag names. A registry that refused ctl's tag after api's
// moved left api's new tag in place while the error named only ctl.
type PartialError struct {
	Failed string
	Err    error
	// Tagged are the tags moved, of every binary.
	Tagged []string
	// Untagged are the repo@sha256:… uploaded that not every tag of their
	// binary names, and the SBOMs attached to them.
	Untagged []string
	// lines describe both, with each binary's name and digest.
	tagged, untagged []string
}

func (e *PartialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v", e.Failed, e.Err)
	if len(e.tagged) == 0 {
		b.WriteString("; no tag of any binary was moved")
	} else {
		fmt.Fprintf(&b, "; tags moved: %s", strings.Join(e.tagged, ", "))
	}
	if len(e.untagged) > 0 {
		fmt.Fprintf(&b, "; not tagged (uploaded by digest): %s", strings.Join(e.untagged, ", "))
	}
	return b.String()
}

func (e *PartialError) Unwrap() error { return e.Err }

// leftBehind describes what a release that failed for binary failed left in
// the registry, from the results so far.
func leftBehind(reqs []Named, results []*Result, failed string, err error) *PartialError {
	e := &PartialError{Failed: failed, Err: err}
	for i, n := range reqs {
		r := results[i]
		if r == nil || r.Pushed == nil {
			continue
		}
		tagged := map[string]bool{} // repositories a tag of this binary names now
		for _, t := range r.Pushed.Tags {
			e.Tagged = append(e.Tagged, t)
			e.tagged = append(e.tagged, fmt.Sprintf("%s: %s -> %s", n.Name, t, r.Pushed.Digest))
			tagged[repository(t)] = true
		}
		signed := ""
		if len(r.Signatures) > 0 {
			signed = " (signed and attested)"
		}
		// Per repository: a binary pushed to two, whose second refused
		// the tag, is tagged in the first and not in the second.
		for _, ref := range r.Pushed.References {
			if tagged[repository(ref)] {
				continue
			}
			e.Untagged = append(e.Untagged, ref)
			e.untagged = append(e.untagged, fmt.Sprintf("%s: %s%s", n.Name, ref, signed))
		}
		// An SBOM attached as a referrer is an upload by digest too, and
		// a registry's referrers API lists it beside the image.
		if r.SBOMRef != "" {
			e.Untagged = append(e.Untagged, r.SBOMRef)
			e.untagged = append(e.untagged, fmt.Sprintf("%s: SBOM %s", n.Name, r.SBOMRef))
		}
	}
	return e
}

// repository is a tag's or a digest reference's repository, as the
// registry names it.
func repository(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref
	}
	return r.Context().Name()
}

// StoppedError is a release of several binaries that pushed nothing: a
// gate failed, or a build, for some of them.
type StoppedError struct {
	Of   int
	Errs []error
}

func (e *StoppedError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("release of %d binaries stopped, nothing pushed: %d did not pass:\n%s", e.Of, len(e.Errs), strings.Join(msgs, "\n"))
}

func (e *StoppedError) Unwrap() []error { return e.Errs }

// Images are the releases' reports as one report of several images, for
// the summary table; results may hold nil (a release that stopped before
// its gates).
func Images(names []string, results []*Result) report.Images {
	var out report.Images
	for i, r := range results {
		img := report.Image{Name: names[i], Report: &report.Report{}}
		if r != nil && r.Report != nil {
			img.Report = r.Report
		}
		switch {
		case r != nil && r.Digest.Hex != "":
			img.Digest = r.Digest.String()
		case r != nil && len(r.Images) == 1:
			// Blocked: the image that was gated, though it was not pushed.
			if d, err := r.Images[0].Digest(); err == nil {
				img.Digest = d.String()
			}
		}
		out = append(out, img)
	}
	return out
}

// PrefixLog is w with prefix before every line, whole lines written at
// once: the logs of binaries released side by side stay readable.
func PrefixLog(w io.Writer, prefix string) io.Writer {
	return &prefixed{w: w, prefix: prefix}
}

// logMu keeps the lines of every prefixed log whole, whichever goroutine
// writes them.
var logMu sync.Mutex

type prefixed struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixed) Write(b []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := append([]byte(p.prefix), p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
		if _, err := p.w.Write(line); err != nil {
			return len(b), err
		}
	}
}
