// Package healthprobes serves the paths its manifests probe (deploy.yaml,
// chart/templates/deployment.yaml): they are health routes whatever their
// name.
package healthprobes

import "net/http"

func routes() {
	m := http.NewServeMux()
	m.HandleFunc("/api/status", nil) // want `health route /api/status \(the readinessProbe path in deploy.yaml\) is registered on the mux m together with business routes \(/api/orders, /templated\)`
	m.HandleFunc("/ping", nil)       // want `health route /ping \(the livenessProbe path in chart/templates/deployment.yaml\) is registered`
	m.HandleFunc("/api/orders", nil)
	// The templated probe path and the one with a control character were
	// not read: these are business.
	m.HandleFunc("/templated", nil)
}
