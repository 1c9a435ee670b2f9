package release

import (
	"fmt"
	"io"
	"strings"
)

// WriteReport writes the gate report of a release that reached its gates,
// pushed or blocked: a blocked release must say what to fix. A release
// that stopped before (a build error, which says why itself) writes
// nothing. Both executors write it to their log (stderr).
func (r *Result) WriteReport(w io.Writer) error {
	if r == nil || r.Report == nil || len(r.Report.Results) == 0 {
		return nil
	}
	return r.Report.WriteText(w)
}

// WriteEpilogue says what a release that pushed did: that it signed the
// digest, with the command that checks it (verify: the executor's verify
// command, e.g. "go-image verify" or "dagger call verify"), and what it
// released under which tags. The pushed reference itself goes to stdout, or
// is the function's result, for scripts.
func (r *Result) WriteEpilogue(w io.Writer, verify string) error {
	if r == nil || r.Pushed == nil {
		return fmt.Errorf("release epilogue of a release that pushed nothing (go-image bug)")
	}
	if len(r.Signatures) > 0 {
		if _, err := fmt.Fprintf(w, "go-image: signed %s with its provenance, SBOM and gate report; check with: %s --image %s --key cosign.pub\n", r.Digest, verify, r.Pushed.Ref()); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "go-image: released %s as %s\n", r.Digest, strings.Join(r.Pushed.Tags, ", "))
	return err
}
