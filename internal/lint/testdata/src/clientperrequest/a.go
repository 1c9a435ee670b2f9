package clientperrequest

import (
	"net/http"

	"clientlib"

	"example.com/generated/clientset"
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
	// A generated clientset outside k8s.io/client-go is the same thing.
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		_, _ = clientset.NewForConfig(cfg) // want `clientset.NewForConfig is called inside an HTTP handler`
	})
	// Through calls, across packages: the handler builds a client per request.
	mux.HandleFunc("/through", func(w http.ResponseWriter, r *http.Request) {
		_ = clientlib.Clients() // want `clientlib.Clients is called inside an HTTP handler and builds a new Kubernetes client on every call \(clientlib.Clients → kubernetes.NewForConfig\)`
	})
}

// One client per configured cluster, built at start-up a known number of
// times: right, not per request.
func perCluster(cfgs []*rest.Config) []*kubernetes.Clientset {
	var out []*kubernetes.Clientset
	for _, cfg := range cfgs {
		out = append(out, kubernetes.NewForConfigOrDie(cfg))
	}
	for i := 0; i < len(cfgs); i++ {
		_, _ = dynamic.NewForConfig(cfgs[i])
	}
	return out
}

// Event loops run per item: a queue drained with for next() {}, for {}, a
// range over a channel.
type queue struct{ items chan *rest.Config }

func (q *queue) next() bool { return len(q.items) > 0 }

func workers(q *queue) {
	for {
		cfg := <-q.items
		_ = kubernetes.NewForConfigOrDie(cfg) // want `kubernetes.NewForConfigOrDie is called inside a loop`
	}
}

func drain(q *queue) {
	for cfg := range q.items {
		_, _ = dynamic.NewForConfig(cfg) // want `dynamic.NewForConfig is called inside a loop`
	}
}

// A handler reached through an interface, as a work queue calls it: the
// implementation builds clients two calls down.
type handler interface{ Handle() error }

type upgrade struct{}

func (upgrade) Handle() error { return rollOut() }

func rollOut() error {
	_ = clientlib.Clients()
	return nil
}

func (q *queue) process(h handler) bool { return h.Handle() == nil }

func run(q *queue, h handler) {
	for q.process(h) { // want `queue.process is called inside a loop and builds a new Kubernetes client on every call \(clientperrequest.queue.process → clientperrequest.handler.Handle → clientperrequest.upgrade.Handle → clientperrequest.rollOut → clientlib.Clients → kubernetes.NewForConfig\)`
	}
}

// A closure defined in a loop but not a handler: its calls run when it is
// called, which this analyzer does not follow.
func closures(cfgs chan *rest.Config) {
	var fs []func()
	for cfg := range cfgs {
		fs = append(fs, func() { _, _ = kubernetes.NewForConfig(cfg) })
	}
	_ = fs
}
