package distribute

import "gatehouse.dev/gatehouse/internal/ir"

// gatewayView is one Gateway's slice of the IR, kept up to date by reference
// counting so that a publish costs in proportion to what it changed.
//
// Visibility rules (children point to their parents, so visibility flows from
// the Gateway down):
//   - a Listener is visible when it exists and its Gateway is this one;
//   - a Route is visible when one of its parents is a visible Listener;
//   - a Bind or Certificate is visible when it exists and a visible Listener
//     names it; a Backend when it exists and a visible Route references it;
//   - a Policy is visible when it names this Gateway among its Gateways.
//
// Each visible Listener and Route remembers the references it counted, so it
// can take them back without knowing its previous value.
type gatewayView struct {
	gateway string
	subs    map[*Subscription]struct{}
	// listeners maps each visible Listener to the Bind and Certificate IDs it
	// counted in refs.
	listeners map[string][]ir.ID
	// routes maps each visible Route to the Backend IDs it counted in refs.
	routes map[string][]ir.ID
	// l4routes is the same for visible L4Routes (l4view.go).
	l4routes map[string][]ir.ID
	// refs counts references to Binds, Certificates and Backends, whether or
	// not the referenced resource exists yet.
	refs map[ir.ID]int
	// visible is what every subscription of this view holds after its pending
	// changes are delivered.
	visible map[ir.ID]struct{}
}

func newGatewayView(gateway string) *gatewayView {
	return &gatewayView{gateway: gateway, subs: map[*Subscription]struct{}{},
		listeners: map[string][]ir.ID{}, routes: map[string][]ir.ID{}, l4routes: map[string][]ir.ID{},
		refs: map[ir.ID]int{}, visible: map[ir.ID]struct{}{}}
}

// update brings the view in line with the hub state after the resources in
// touched changed (upserted marks those whose content was replaced) and
// returns what the view's subscriptions must apply. h.mu is held.
func (v *gatewayView) update(h *Hub, touched []ir.ID, upserted map[ir.ID]bool) ([]ir.Resource, []ir.ID) {
	// dirty holds every ID whose visibility may have changed; true when its
	// content changed too.
	dirty := map[ir.ID]bool{}
	routes := map[string]struct{}{}
	l4routes := map[string]struct{}{}
	for _, id := range touched {
		dirty[id] = dirty[id] || upserted[id] || upserted == nil
		switch id.Kind {
		case ir.KindListener:
			if v.updateListener(h, id, dirty) {
				for r := range h.routesByListener[id.Name] {
					routes[r] = struct{}{}
				}
				for r := range h.l4ByListener[id.Name] {
					l4routes[r] = struct{}{}
				}
			}
		case ir.KindRoute:
			routes[id.Name] = struct{}{}
		case ir.KindL4Route:
			l4routes[id.Name] = struct{}{}
		}
	}
	for name := range routes {
		v.updateRoute(h, name, dirty)
	}
	for name := range l4routes {
		v.updateL4Route(h, name, dirty)
	}
	var ups []ir.Resource
	var rms []ir.ID
	for id, changed := range dirty {
		_, was := v.visible[id]
		switch now := v.isVisible(h, id); {
		case now && (!was || changed):
			v.visible[id] = struct{}{}
			ups = append(ups, h.state[id])
		case !now && was:
			delete(v.visible, id)
			rms = append(rms, id)
		}
	}
	return ups, rms
}

// updateListener recounts one listener's references and reports whether its
// membership in the Gateway changed (so its routes need a look).
func (v *gatewayView) updateListener(h *Hub, id ir.ID, dirty map[ir.ID]bool) bool {
	_, was := v.listeners[id.Name]
	v.release(v.listeners[id.Name], dirty)
	delete(v.listeners, id.Name)
	l, _ := h.state[id].(*ir.Listener)
	now := l != nil && l.Gateway == v.gateway
	if now {
		refs := make([]ir.ID, 0, 1+len(l.Certificates))
		if l.Bind != "" {
			refs = append(refs, ir.ID{Kind: ir.KindBind, Name: l.Bind})
		}
		for _, c := range l.Certificates {
			refs = append(refs, ir.ID{Kind: ir.KindCertificate, Name: c})
		}
		v.listeners[id.Name] = v.hold(refs, dirty)
	}
	return was != now
}

// updateRoute recounts one route's backend references.
func (v *gatewayView) updateRoute(h *Hub, name string, dirty map[ir.ID]bool) {
	id := ir.ID{Kind: ir.KindRoute, Name: name}
	if _, ok := dirty[id]; !ok {
		dirty[id] = false
	}
	v.release(v.routes[name], dirty)
	delete(v.routes, name)
	r, _ := h.state[id].(*ir.Route)
	if r == nil || !v.attached(r) {
		return
	}
	var refs []ir.ID
	for i := range r.Backends {
		refs = backendRefIDs(refs, &r.Backends[i])
	}
	refs = mirrorIDs(refs, r.Filters)
	v.routes[name] = v.hold(refs, dirty)
}

// attached reports whether r has a parent among the view's listeners.
func (v *gatewayView) attached(r *ir.Route) bool {
	for _, p := range r.Parents {
		if _, ok := v.listeners[p.Listener]; ok {
			return true
		}
	}
	return false
}

// hold counts each distinct reference once and returns the deduplicated list.
func (v *gatewayView) hold(refs []ir.ID, dirty map[ir.ID]bool) []ir.ID {
	out := refs[:0]
	for _, ref := range refs {
		if contains(out, ref) {
			continue
		}
		out = append(out, ref)
		v.refs[ref]++
		if _, ok := dirty[ref]; !ok {
			dirty[ref] = false
		}
	}
	return out
}

// release takes back references counted by hold.
func (v *gatewayView) release(refs []ir.ID, dirty map[ir.ID]bool) {
	for _, ref := range refs {
		if v.refs[ref]--; v.refs[ref] <= 0 {
			delete(v.refs, ref)
		}
		if _, ok := dirty[ref]; !ok {
			dirty[ref] = false
		}
	}
}

func (v *gatewayView) isVisible(h *Hub, id ir.ID) bool {
	switch id.Kind {
	case ir.KindListener:
		_, ok := v.listeners[id.Name]
		return ok
	case ir.KindRoute:
		_, ok := v.routes[id.Name]
		return ok
	case ir.KindL4Route:
		_, ok := v.l4routes[id.Name]
		return ok
	case ir.KindPolicy:
		_, ok := h.policiesByGateway[v.gateway][id.Name]
		return ok
	}
	_, exists := h.state[id]
	return exists && v.refs[id] > 0
}

// backendRefIDs appends the Backends a reference sends traffic or mirror
// copies to.
func backendRefIDs(out []ir.ID, b *ir.BackendRef) []ir.ID {
	if b.Backend != "" {
		out = append(out, ir.ID{Kind: ir.KindBackend, Name: b.Backend})
	}
	return mirrorIDs(out, b.Filters)
}

// mirrorIDs appends the Backends named by mirror filters.
func mirrorIDs(out []ir.ID, filters []ir.Filter) []ir.ID {
	for i := range filters {
		if m := filters[i].Mirror; m != nil {
			out = backendRefIDs(out, &m.Backend)
		}
	}
	return out
}

func contains(ids []ir.ID, id ir.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
