package push

import (
	"bytes"
	"io"
	"net/http"

	"dagger/go-image/internal/redact"
)

// Redacted replaces a credential in any text go-image prints.
const Redacted = redact.Redacted

// maxErrorBody bounds how much of a registry's error response is read and
// quoted. Registries answer errors with a small JSON document; a hostile
// one could send gigabytes, which go-containerregistry would read whole.
const maxErrorBody = 16 << 10

// newRedactor is a redactor of one registry operation, knowing c's
// credentials; the transport adds every Authorization it sends.
func newRedactor(c Credentials) *redact.Redactor {
	r := &redact.Redactor{}
	r.Credentials(c.Username, c.Password)
	return r
}

// redactingTransport sits below go-containerregistry's auth and retry
// transports, where every request carries its final Authorization header.
// It records that header's credential, and rewrites every error response's
// body — the text go-containerregistry quotes in its errors — to a bounded
// excerpt with every credential seen so far redacted. A registry, a proxy
// or a token server that echoes the Authorization header therefore never
// gets a credential printed, in any of its encodings.
type redactingTransport struct {
	inner http.RoundTripper
	r     *redact.Redactor
}

func (t *redactingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if h := req.Header.Get("Authorization"); h != "" {
		t.r.Authorization(h)
	}
	resp, err := t.inner.RoundTrip(req)
	if err != nil {
		return resp, redactedError{msg: t.r.Apply(err.Error()), err: err}
	}
	if resp.StatusCode < 300 || resp.Body == nil {
		return resp, nil
	}
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	resp.Body.Close()
	if len(b) > maxErrorBody {
		b = append(b[:maxErrorBody], "… (truncated)"...)
	}
	if rerr != nil {
		b = append(b, " (reading the rest failed)"...)
	}
	b = []byte(t.r.Apply(string(b)))
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// redactedError is an error whose message had credentials removed; it
// keeps the original for errors.Is/As (e.g. *transport.Error, timeouts).
// Callers that print must use Error(), which is redacted.
type redactedError struct {
	msg string
	err error
}

func (r redactedError) Error() string { return r.msg }
func (r redactedError) Unwrap() error { return r.err }
