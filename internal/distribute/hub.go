// Package distribute carries IR changes from translation to proxies as
// deltas. The Hub keeps the current IR; each Subscription receives the full
// set once, then only what changed, coalesced while the proxy is busy. A
// subscription sees either everything (Subscribe, used by `gatehouse run`) or
// one Gateway's slice of the IR (SubscribeGateway, used per proxy by the gRPC
// server in internal/distribute/xds).
package distribute

import (
	"context"
	"sort"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// Hub holds the current IR and fans changes out to subscriptions.
type Hub struct {
	mu      sync.Mutex
	version uint64
	state   map[ir.ID]ir.Resource
	subs    map[*Subscription]struct{} // unfiltered subscriptions

	// views holds one incrementally maintained slice of the IR per Gateway
	// that has at least one subscription; its subscriptions hang off it.
	views map[string]*gatewayView
	// routesByListener maps a listener name to the routes naming it as a
	// parent, so a listener joining a Gateway finds its routes without a scan.
	routesByListener map[string]map[string]struct{}
	// l4ByListener is the same for L4Routes (l4view.go).
	l4ByListener map[string]map[string]struct{}
	// listenersByGateway maps "namespace/name" to its listener names, so a new
	// Gateway view starts without a scan.
	listenersByGateway map[string]map[string]struct{}
	// policiesByGateway maps "namespace/name" to the policies that apply to
	// something of that Gateway.
	policiesByGateway map[string]map[string]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{
		state:              map[ir.ID]ir.Resource{},
		subs:               map[*Subscription]struct{}{},
		views:              map[string]*gatewayView{},
		routesByListener:   map[string]map[string]struct{}{},
		l4ByListener:       map[string]map[string]struct{}{},
		listenersByGateway: map[string]map[string]struct{}{},
		policiesByGateway:  map[string]map[string]struct{}{},
	}
}

// Publish records a change and queues it for every subscription. Removes are
// applied before upserts, so an ID in both ends up present. It never blocks on
// a proxy; its cost is proportional to the change (times the number of
// Gateway views), not to the size of the IR.
func (h *Hub) Publish(upserts []ir.Resource, removes []ir.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.version++
	touched := make([]ir.ID, 0, len(upserts)+len(removes))
	upserted := make(map[ir.ID]bool, len(upserts))
	for _, id := range removes {
		h.unindex(h.state[id])
		delete(h.state, id)
		touched = append(touched, id)
	}
	for _, r := range upserts {
		id := r.ResourceID()
		h.unindex(h.state[id])
		h.state[id] = r
		h.index(r)
		touched = append(touched, id)
		upserted[id] = true
	}
	for s := range h.subs {
		s.queue(upserts, removes, h.version)
	}
	for _, v := range h.views {
		ups, rms := v.update(h, touched, upserted)
		if len(ups)+len(rms) == 0 {
			continue
		}
		for s := range v.subs {
			s.queue(ups, rms, h.version)
		}
	}
}

// index adds r to the reverse indexes the Gateway views need.
func (h *Hub) index(r ir.Resource) {
	switch v := r.(type) {
	case *ir.Listener:
		addToSet(h.listenersByGateway, v.Gateway, v.Name)
	case *ir.Route:
		for _, p := range v.Parents {
			addToSet(h.routesByListener, p.Listener, v.Name)
		}
	case *ir.L4Route:
		h.indexL4(v, true)
	case *ir.Policy:
		for _, g := range v.Gateways {
			addToSet(h.policiesByGateway, g, v.Name)
		}
	}
}

// unindex removes r (which may be nil) from the reverse indexes.
func (h *Hub) unindex(r ir.Resource) {
	switch v := r.(type) {
	case *ir.Listener:
		removeFromSet(h.listenersByGateway, v.Gateway, v.Name)
	case *ir.Route:
		for _, p := range v.Parents {
			removeFromSet(h.routesByListener, p.Listener, v.Name)
		}
	case *ir.L4Route:
		h.indexL4(v, false)
	case *ir.Policy:
		for _, g := range v.Gateways {
			removeFromSet(h.policiesByGateway, g, v.Name)
		}
	}
}

func addToSet(m map[string]map[string]struct{}, key, member string) {
	set := m[key]
	if set == nil {
		set = map[string]struct{}{}
		m[key] = set
	}
	set[member] = struct{}{}
}

func removeFromSet(m map[string]map[string]struct{}, key, member string) {
	if set := m[key]; set != nil {
		delete(set, member)
		if len(set) == 0 {
			delete(m, key)
		}
	}
}

// Len returns the number of resources in the current IR.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.state)
}

// Version returns the number of Publish calls so far. Every delta carries the
// hub version of the newest change it contains, so proxies that converged on
// the same state report the same version.
func (h *Hub) Version() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.version
}

// Subscribe starts a subscription to the whole IR whose first delta is the
// whole current IR.
func (h *Hub) Subscribe() *Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := newSubscription(h, nil)
	all := make([]ir.Resource, 0, len(h.state))
	for _, r := range h.state {
		all = append(all, r)
	}
	s.queue(all, nil, h.version)
	h.subs[s] = struct{}{}
	return s
}

// SubscribeGateway starts a subscription to one Gateway ("namespace/name").
// It sees the Gateway's Listeners, the Binds and Certificates they name, the
// Routes attached to one of those listeners, and the Backends those Routes
// reference (backend refs and mirror filters). A resource enters the
// subscription when it starts being referenced and leaves (as a remove) when
// the last reference goes. The first delta is the Gateway's current slice.
func (h *Hub) SubscribeGateway(gateway string) *Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := h.views[gateway]
	if v == nil {
		v = newGatewayView(gateway)
		h.views[gateway] = v
		var seed []ir.ID
		for name := range h.listenersByGateway[gateway] {
			seed = append(seed, ir.ID{Kind: ir.KindListener, Name: name})
		}
		for name := range h.policiesByGateway[gateway] {
			seed = append(seed, ir.ID{Kind: ir.KindPolicy, Name: name})
		}
		v.update(h, seed, nil)
	}
	s := newSubscription(h, v)
	all := make([]ir.Resource, 0, len(v.visible))
	for id := range v.visible {
		all = append(all, h.state[id])
	}
	s.queue(all, nil, h.version)
	v.subs[s] = struct{}{}
	return s
}

// Subscription is one proxy's view of the hub.
type Subscription struct {
	h       *Hub
	view    *gatewayView // nil: the whole IR
	mu      sync.Mutex
	pending map[ir.ID]ir.Resource // nil value: remove
	latest  uint64                // hub version of the newest queued change
	signal  chan struct{}
	first   bool
	// delivered is when the last delta was taken; only the caller of Next
	// reads it.
	delivered time.Time

	acked      uint64
	rejections []ir.Rejection
}

func newSubscription(h *Hub, v *gatewayView) *Subscription {
	return &Subscription{h: h, view: v, pending: map[ir.ID]ir.Resource{}, signal: make(chan struct{}, 1)}
}

func (s *Subscription) queue(upserts []ir.Resource, removes []ir.ID, version uint64) {
	s.mu.Lock()
	for _, id := range removes {
		s.pending[id] = nil
	}
	for _, r := range upserts {
		s.pending[r.ResourceID()] = r
	}
	s.latest = version
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// Next blocks until there are changes and returns them as one delta: every
// change queued since the previous call, coalesced per resource. The first
// call returns the initial state even when it is empty.
func (s *Subscription) Next(ctx context.Context) (ir.Delta, error) {
	return s.NextDebounced(ctx, 0, 0)
}

// NextDebounced is Next with debouncing. A change on an idle subscription
// (nothing delivered for quiet) is returned at once, so an isolated change
// pays no debounce delay; a change that follows a delivery within quiet is
// held until no new change arrives for quiet, or until max has passed, so a
// burst of publishes becomes few deltas. The initial state is returned
// without delay.
func (s *Subscription) NextDebounced(ctx context.Context, quiet, max time.Duration) (ir.Delta, error) {
	for {
		select {
		case <-ctx.Done():
			return ir.Delta{}, ctx.Err()
		case <-s.signal:
		}
		s.mu.Lock()
		ready, initial := len(s.pending) > 0 || !s.first, !s.first
		s.mu.Unlock()
		if !ready {
			continue
		}
		if quiet > 0 && !initial && time.Since(s.delivered) < quiet {
			s.settle(ctx, quiet, max)
		}
		if d, ok := s.take(); ok {
			return d, nil
		}
	}
}

// settle waits until no change arrived for quiet, at most max in total.
func (s *Subscription) settle(ctx context.Context, quiet, max time.Duration) {
	deadline := time.Now().Add(max)
	t := time.NewTimer(quiet)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case <-s.signal:
			wait := min(quiet, time.Until(deadline))
			if wait <= 0 {
				return
			}
			t.Reset(wait)
		}
	}
}

// take turns the pending changes into a delta.
func (s *Subscription) take() (ir.Delta, bool) {
	s.mu.Lock()
	if len(s.pending) == 0 && s.first {
		s.mu.Unlock()
		return ir.Delta{}, false
	}
	s.first = true
	s.delivered = time.Now()
	d := ir.Delta{Version: s.latest}
	for id, r := range s.pending {
		if r == nil {
			d.Removes = append(d.Removes, id)
		} else {
			d.Upserts = append(d.Upserts, r)
		}
	}
	s.pending = map[ir.ID]ir.Resource{}
	s.mu.Unlock()
	sortDelta(&d)
	return d, true
}

// sortDelta orders a delta deterministically (by kind, then name) so logs and
// tests are stable.
func sortDelta(d *ir.Delta) {
	sort.Slice(d.Upserts, func(a, b int) bool { return idLess(d.Upserts[a].ResourceID(), d.Upserts[b].ResourceID()) })
	sort.Slice(d.Removes, func(a, b int) bool { return idLess(d.Removes[a], d.Removes[b]) })
}

func idLess(a, b ir.ID) bool {
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.Name < b.Name
}

// Report records the proxy's answer to a delta: an ACK when rejections is
// empty, a NACK with reasons otherwise.
func (s *Subscription) Report(version uint64, rejections []ir.Rejection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = version
	s.rejections = append([]ir.Rejection(nil), rejections...)
}

// Acked returns the last version the proxy answered and its rejections.
func (s *Subscription) Acked() (uint64, []ir.Rejection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked, append([]ir.Rejection(nil), s.rejections...)
}

// Close ends the subscription. Closing the last subscription of a Gateway
// drops that Gateway's view.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	delete(s.h.subs, s)
	if v := s.view; v != nil {
		delete(v.subs, s)
		if len(v.subs) == 0 && s.h.views[v.gateway] == v {
			delete(s.h.views, v.gateway)
		}
	}
}
