// Package admin serves the read-only admin endpoints: readiness, the proxy's
// config dump, translation status and config problems, and pprof.
package admin

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
)

// Sources are the functions the admin endpoints read. Any may be nil.
type Sources struct {
	// Ready reports whether the proxy has config and its listeners are bound.
	Ready func() bool
	// ConfigDump returns the proxy's current IR (JSON-encodable).
	ConfigDump func() any
	// Status returns the translation status of every object.
	Status func() any
	// Problems returns the config problems the source reported.
	Problems func() any
}

// Handler returns the admin mux:
//
//	/ready          200 when ready, 503 otherwise
//	/config_dump    the proxy's IR as JSON (private keys omitted)
//	/status         status conditions of every object, as JSON
//	/problems       config problems (file, object, field, message)
//	/debug/pprof/   Go profiles
func Handler(s Sources) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if s.Ready == nil || !s.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /config_dump", jsonHandler(s.ConfigDump))
	mux.HandleFunc("GET /status", jsonHandler(s.Status))
	mux.HandleFunc("GET /problems", jsonHandler(s.Problems))
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
