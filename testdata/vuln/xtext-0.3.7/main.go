// Command xtext is a scan-gate fixture: a tiny service that links
// golang.org/x/text v0.3.7, whose language.ParseAcceptLanguage is the subject of
// CVE-2022-32149 (fixed in 0.3.8).
package main

import (
	"fmt"
	"log"
	"net/http"

	"golang.org/x/text/language"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, tags)
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
