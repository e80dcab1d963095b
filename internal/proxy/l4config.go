package proxy

import (
	"context"
	"net"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy/l4"
)

// l4State is the layer-4 part of the proxy's config: TLS and TCP
// listeners, L4Routes and the Backends they reference, compiled into an
// l4.Table that is swapped atomically (like the router table).
type l4State struct {
	server    *l4.Server
	listeners map[string]*ir.Listener
	routes    map[string]*ir.L4Route
	// refs are the Backend names the routes reference, so a Backend change
	// rebuilds the table only when an L4 route uses it.
	refs map[string]bool
}

func newL4State(p *Proxy) *l4State {
	o := l4.Options{Logger: p.log, Certificate: p.certificateFor}
	if obs, ok := p.opts.Observer.(L4Observer); ok {
		o.Observe = obs.EndConn
	}
	return &l4State{
		server:    l4.NewServer(o),
		listeners: map[string]*ir.Listener{}, routes: map[string]*ir.L4Route{}, refs: map[string]bool{},
	}
}

// serveConn is the listener manager's stream handler.
func (s *l4State) serveConn(ctx context.Context, bind *ir.Bind, c net.Conn) {
	s.server.ServeConn(ctx, bind, c)
}

// applyL4 applies the layer-4 part of a delta and swaps the table when it
// changed. It runs after Backends and Listeners were applied (p.resources
// holds their last good versions). p.mu is held.
func (p *Proxy) applyL4(d ir.Delta) {
	s := p.l4
	changed := false
	for _, r := range d.Upserts {
		switch v := r.(type) {
		case *ir.L4Route:
			s.routes[v.Name] = v
			p.resources[v.ResourceID()] = v
			changed = true
		case *ir.Listener:
			_, had := s.listeners[v.Name]
			if v.Protocol == ir.ProtocolTLS || v.Protocol == ir.ProtocolTCP {
				s.listeners[v.Name] = v
				changed = true
			} else if had {
				delete(s.listeners, v.Name)
				changed = true
			}
		case *ir.Backend:
			changed = changed || s.refs[v.Name]
		}
	}
	for _, id := range d.Removes {
		switch id.Kind {
		case ir.KindL4Route:
			delete(s.routes, id.Name)
			changed = true
		case ir.KindListener:
			if _, had := s.listeners[id.Name]; had {
				delete(s.listeners, id.Name)
				changed = true
			}
		case ir.KindBackend:
			changed = changed || s.refs[id.Name]
		}
	}
	if !changed {
		return
	}
	backends := map[string]*ir.Backend{}
	s.refs = map[string]bool{}
	for _, r := range s.routes {
		for _, b := range r.Backends {
			if b.Backend == "" {
				continue
			}
			s.refs[b.Backend] = true
			if be, ok := p.resources[ir.ID{Kind: ir.KindBackend, Name: b.Backend}].(*ir.Backend); ok {
				backends[b.Backend] = be
			}
		}
	}
	s.server.Store(l4.Build(s.listeners, s.routes, backends))
}
