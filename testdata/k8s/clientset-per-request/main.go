// Command clientset-per-request is a broken variant of the example service:
// probes, readiness and shutdown are right, but the /pods handler builds a
// Kubernetes clientset on every request. Each one opens its own connections
// and carries its own rate limiter. Only lint sees it (k8sclientperrequest);
// it builds against a client-go stub (see ../client-go-stub).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

type server struct {
	cfg   *rest.Config
	ready atomic.Bool
}

func (s *server) pods(w http.ResponseWriter, r *http.Request) {
	client, err := kubernetes.NewForConfig(s.cfg)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	list, err := client.CoreV1().Pods("default").List(r.Context(), corev1.ListOptions{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	fmt.Fprintln(w, list)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cfg, err := rest.InClusterConfig()
	if err != nil {
		log.Fatal(err)
	}
	s := &server{cfg: cfg}
	probes := http.NewServeMux()
	probes.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	probes.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	business := http.NewServeMux()
	business.HandleFunc("GET /pods", s.pods)

	probeLn, err := net.Listen("tcp", envOr("PROBE_ADDR", ":8081"))
	if err != nil {
		log.Fatal(err)
	}
	probeSrv := &http.Server{Handler: probes, ReadHeaderTimeout: 5 * time.Second}
	go probeSrv.Serve(probeLn)
	ln, err := net.Listen("tcp", envOr("ADDR", ":8080"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: business, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.ready.Store(true)
	<-ctx.Done()
	s.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	_ = probeSrv.Shutdown(sctx)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
