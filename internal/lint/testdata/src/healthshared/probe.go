// Package healthshared adds a probe to http.DefaultServeMux, which
// healthsharedapi already serves business on.
package healthshared

import (
	"net/http"

	"healthsharedapi"
)

func Setup() {
	healthsharedapi.Register()
	http.HandleFunc("/healthz", nil) // want `health route /healthz is registered on .*http.DefaultServeMux.* together with business routes \(/orders \(package healthsharedapi\)\)`
}
