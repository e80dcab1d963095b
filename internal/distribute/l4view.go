package distribute

import "gatehouse.dev/gatehouse/internal/ir"

// L4Routes (TLSRoute, TCPRoute) follow the same visibility rule as Routes:
// visible when one of their parents is a visible Listener; the Backends
// they reference are then visible too.

// indexL4 adds (add true) or removes an L4Route from the hub's
// listener index.
func (h *Hub) indexL4(r *ir.L4Route, add bool) {
	for _, p := range r.Parents {
		if add {
			addToSet(h.l4ByListener, p.Listener, r.Name)
		} else {
			removeFromSet(h.l4ByListener, p.Listener, r.Name)
		}
	}
}

// updateL4Route recounts one L4Route's backend references.
func (v *gatewayView) updateL4Route(h *Hub, name string, dirty map[ir.ID]bool) {
	id := ir.ID{Kind: ir.KindL4Route, Name: name}
	if _, ok := dirty[id]; !ok {
		dirty[id] = false
	}
	v.release(v.l4routes[name], dirty)
	delete(v.l4routes, name)
	r, _ := h.state[id].(*ir.L4Route)
	if r == nil || !v.attachedL4(r) {
		return
	}
	var refs []ir.ID
	for i := range r.Backends {
		refs = backendRefIDs(refs, &r.Backends[i])
	}
	v.l4routes[name] = v.hold(refs, dirty)
}

func (v *gatewayView) attachedL4(r *ir.L4Route) bool {
	for _, p := range r.Parents {
		if _, ok := v.listeners[p.Listener]; ok {
			return true
		}
	}
	return false
}
