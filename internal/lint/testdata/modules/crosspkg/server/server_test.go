package server

import (
	"net/http"
	"testing"
)

// A test's own listener is not the service: neither the vet tool nor the
// checker reports it.
func TestListen(t *testing.T) {
	go http.ListenAndServe("127.0.0.1:0", nil)
}
