package clientperrequest

import (
	"net/http"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

type server struct {
	cfg    *rest.Config
	client *kubernetes.Clientset
}

// Built once at start-up: fine.
func newServer(cfg *rest.Config) (*server, error) {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &server{cfg: cfg, client: c}, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, _ := kubernetes.NewForConfig(s.cfg) // want `kubernetes.NewForConfig is called inside the HTTP handler ServeHTTP.*create the client once at start-up`
	_ = c
}

func pods(w http.ResponseWriter, r *http.Request) {
	cfg, _ := rest.InClusterConfig()
	_, _ = rest.HTTPClientFor(cfg) // want `rest.HTTPClientFor is called inside the HTTP handler pods`
}

func routes(mux *http.ServeMux, cfg *rest.Config) {
	mux.HandleFunc("/pods", func(w http.ResponseWriter, r *http.Request) {
		_, _ = dynamic.NewForConfig(cfg) // want `dynamic.NewForConfig is called inside an HTTP handler`
	})
	mux.Handle("/raw", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = rest.RESTClientFor(cfg) // want `rest.RESTClientFor is called inside an HTTP handler`
	}))
}

func loop(cfgs []*rest.Config) {
	for _, cfg := range cfgs {
		_ = kubernetes.NewForConfigOrDie(cfg) // want `kubernetes.NewForConfigOrDie is called inside a loop`
	}
	for i := 0; i < 3; i++ {
		_, _ = dynamic.NewForConfig(cfgs[i]) // want `dynamic.NewForConfig is called inside a loop`
	}
	// A closure defined in a loop but not a handler: its calls run when
	// it is called, which this analyzer does not follow.
	var fs []func()
	for _, cfg := range cfgs {
		fs = append(fs, func() { _, _ = kubernetes.NewForConfig(cfg) })
	}
	_ = fs
}
