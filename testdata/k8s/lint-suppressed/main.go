// Command lint-suppressed is watch-without-cancel with the lint's
// suppressions: the pod watch and a localhost pprof listener are suppressed
// with a reason (reported as suppressed, not counted), the informer
// factory's never-closed stop channel is not, and one suppression without a
// reason is itself a finding (lintignore). With --lint-policy
// k8swatchcancel=warn,lintignore=warn the gate passes with warnings.
package main

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cfg, err := rest.InClusterConfig()
	if err != nil {
		log.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	//go-image:ignore k8swatchcancel -- the pod event log is a debugging aid; it may die with the process
	w, err := client.CoreV1().Pods("").Watch(context.Background(), corev1.ListOptions{})
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for ev := range w.ResultChan() {
			log.Printf("pod event %s", ev.Type)
		}
	}()
	stopCh := make(chan struct{})
	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	factory.Start(stopCh)

	go http.ListenAndServe("localhost:6060", nil) //go-image:ignore httpshutdown -- pprof on localhost for on-call debugging; nothing to drain

	//go-image:ignore healthmux
	probes := http.NewServeMux()
	probes.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	probeLn, err := net.Listen("tcp", envOr("PROBE_ADDR", ":8081"))
	if err != nil {
		log.Fatal(err)
	}
	probeSrv := &http.Server{Handler: probes, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- probeSrv.Serve(probeLn) }()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := probeSrv.Shutdown(sctx); err != nil {
		log.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
