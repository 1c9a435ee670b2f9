package imagetest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// CountingRegistry serves an in-process registry on loopback for the test
// and counts the GET requests whose path holds part ("/manifests/",
// "/blobs/"): how much a reader fetched from it. It returns the host.
func CountingRegistry(t testing.TB, part string) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, part) {
			n.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &n
}
