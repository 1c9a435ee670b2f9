package push

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"dagger/go-image/internal/limits"
)

// boundedTransport bounds every registry answer go-image reads: a
// manifest to limits.Manifest, anything else (a token, an error, a
// signature or its config) to the larger of limits.RegistryAnswer and
// limits.Signature. A registry that sends more fails the request with the
// named error instead of filling memory. HEAD answers carry no body: their
// Content-Length is a blob's size, not a read.
type boundedTransport struct {
	rt  http.RoundTripper
	lim limits.Limits
}

func (b boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.rt.RoundTrip(req)
	if err != nil || resp.Body == nil || req.Method == http.MethodHead {
		return resp, err
	}
	limit, kind := max(b.lim.RegistryAnswer, b.lim.Signature), limits.RegistryAnswer
	if strings.Contains(req.URL.Path, "/manifests/") {
		limit, kind = b.lim.Manifest, limits.Manifest
	}
	return bound(req, resp, limit, kind)
}

// bound refuses resp when it declares more than limit bytes, and fails its
// body's read past them, with the named error.
func bound(req *http.Request, resp *http.Response, limit int64, kind limits.Kind) (*http.Response, error) {
	// The query may hold an upload's state token: name the path only.
	what := fmt.Sprintf("%s's answer to %s %s", req.URL.Host, req.Method, req.URL.Path)
	if resp.ContentLength > limit {
		resp.Body.Close()
		return nil, &limits.Error{Kind: kind, What: what, Limit: limit, Got: resp.ContentLength}
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{limits.Reader(resp.Body, limit, kind, what), resp.Body}
	return resp, nil
}
