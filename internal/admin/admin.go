// Package admin serves the read-only admin endpoints: an HTML overview page,
// liveness and readiness, Prometheus metrics, the proxy's config dump,
// translation status and config problems, connected proxies, and pprof.
package admin

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"gatehouse.dev/gatehouse/internal/distribute/xds"
	"gatehouse.dev/gatehouse/internal/proxy/upstream"
)

// Sources are the functions the admin endpoints read. Any may be nil.
type Sources struct {
	// Title names the process on the overview page ("standalone", "proxy
	// default/gw", "controller").
	Title string
	// Ready reports whether the process should receive traffic: for a proxy,
	// it has config, its listeners are bound and it is not draining.
	Ready func() bool
	// ConfigDump returns the proxy's current IR (JSON-encodable; a
	// proxy.Dump is also rendered on the overview page).
	ConfigDump func() any
	// Status returns the translation status of every object
	// ([]translate.ObjectStatus is rendered on the overview page).
	Status func() any
	// Problems returns the config problems the source reported.
	Problems func() any
	// Proxies lists the proxies connected to a controller.
	Proxies func() []xds.ProxyStatus
	// Metrics serves the Prometheus metrics.
	Metrics http.Handler
	// Endpoints returns the proxy balancer's endpoint state
	// (proxy.Proxy.EndpointHealth); the page shows it per backend.
	Endpoints func() []upstream.BackendHealth
}

// Handler returns the admin mux:
//
//	/               overview page (HTML): gateways, listeners, routes,
//	                backends and endpoints, policies, status, proxies
//	/healthz        200 while the process serves (liveness)
//	/ready          200 when ready, 503 otherwise (readiness)
//	/metrics        Prometheus metrics (OpenMetrics when asked for)
//	/config_dump    the proxy's IR as JSON (private keys omitted)
//	/status         status conditions of every object, as JSON
//	/problems       config problems (file, object, field, message)
//	/proxies        connected proxies and the version each acknowledged
//	/endpoints      endpoint health per backend (ready, ejected, in flight)
//	/debug/pprof/   Go profiles
func Handler(s Sources) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", pageHandler(s))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if s.Ready == nil || !s.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
	mux.HandleFunc("GET /config_dump", jsonHandler(s.ConfigDump))
	mux.HandleFunc("GET /status", jsonHandler(s.Status))
	mux.HandleFunc("GET /problems", jsonHandler(s.Problems))
	var proxies func() any
	if s.Proxies != nil {
		proxies = func() any { return s.Proxies() }
	}
	mux.HandleFunc("GET /proxies", jsonHandler(proxies))
	var endpoints func() any
	if s.Endpoints != nil {
		endpoints = func() any { return s.Endpoints() }
	}
	mux.HandleFunc("GET /endpoints", jsonHandler(endpoints))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func jsonHandler(get func() any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if get == nil {
			http.Error(w, "not available", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(get()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
}
