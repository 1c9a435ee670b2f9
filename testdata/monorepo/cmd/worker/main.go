// Command worker is another of the monorepo's services.
package main

import (
	"fmt"
	"log"
	"net/http"

	"example.com/monorepo/internal/server"
)

var version = "dev"

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "worker %s\n", version)
	})
	if err := server.Run("worker", mux); err != nil {
		log.Fatal(err)
	}
}
