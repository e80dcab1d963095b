package upstream

import (
	"sort"
	"time"
)

// EndpointHealth is one endpoint of a backend port as the balancer sees it
// at the moment of the snapshot.
type EndpointHealth struct {
	// Address is host:port.
	Address string `json:"address"`
	// Ready is the endpoint's readiness from the config (EndpointSlice).
	Ready bool `json:"ready"`
	// Ejected is true while passive health checking keeps the endpoint out
	// of rotation, until EjectedUntil.
	Ejected      bool      `json:"ejected"`
	EjectedUntil time.Time `json:"ejectedUntil,omitzero"`
	// Outstanding is the number of requests in flight to the endpoint.
	Outstanding int64 `json:"outstanding"`
	// Failures counts consecutive failures since the last success.
	Failures int32 `json:"failures"`
}

// PortHealth is the endpoints behind one backend port.
type PortHealth struct {
	Port      int32            `json:"port"`
	Endpoints []EndpointHealth `json:"endpoints"`
}

// BackendHealth is the endpoint state of one backend.
type BackendHealth struct {
	Name  string       `json:"name"`
	Ports []PortHealth `json:"ports"`
}

// Health returns a read-only snapshot of every backend's endpoints, sorted
// by backend name; ready endpoints come before not-ready ones. It reads the
// live counters without locking the request path, so values are each
// current but not taken at one instant.
func (r *Registry) Health() []BackendHealth {
	now := r.now()
	var out []BackendHealth
	r.backends.Range(func(_, v any) bool {
		b := v.(*backend)
		bh := BackendHealth{Name: b.name}
		for _, p := range b.ports {
			ph := PortHealth{Port: p.port}
			for _, group := range []struct {
				eps   []*endpoint
				ready bool
			}{{p.ready, true}, {p.notReady, false}} {
				for _, e := range group.eps {
					ph.Endpoints = append(ph.Endpoints, endpointHealth(e, group.ready, now))
				}
			}
			bh.Ports = append(bh.Ports, ph)
		}
		out = append(out, bh)
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func endpointHealth(e *endpoint, ready bool, now time.Time) EndpointHealth {
	h := EndpointHealth{Address: e.addr, Ready: ready, Outstanding: e.outstanding.Load(), Failures: e.failures.Load()}
	if until := e.ejectedUntil.Load(); until > now.UnixNano() {
		h.Ejected, h.EjectedUntil = true, time.Unix(0, until)
	}
	return h
}
