// Package suppress has findings suppressed at their site, and suppression
// comments that are findings themselves.
package suppress

import "net/http"

func debug() {
	//go-image:ignore httpshutdown -- local pprof listener, only in the dev build
	http.ListenAndServe(":6060", nil) // want `suppressed \(local pprof listener, only in the dev build\): http.ListenAndServe gives no handle`

	http.ListenAndServe(":6061", nil) //go-image:ignore httpshutdown,healthmux -- same line works too // want `suppressed \(same line works too // want .*\): http.ListenAndServe`

	//go-image:ignore healthmux -- names another analyzer: does not suppress this one
	http.ListenAndServe(":6062", nil) // want `^http.ListenAndServe gives no handle`

	//go-image:ignore httpshutdown // want `this //go-image:ignore comment gives no reason, so it suppresses nothing`
	http.ListenAndServe(":6063", nil) // want `^http.ListenAndServe gives no handle`

	//go-image:ignore httpshutdwn -- typo // want `names the unknown analyzer "httpshutdwn"`
	http.ListenAndServe(":6064", nil) // want `^http.ListenAndServe gives no handle`
}
