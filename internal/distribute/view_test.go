package distribute

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

// filterGateway is the from-scratch definition of a Gateway's slice of the IR,
// written independently of gatewayView as the oracle for the property test.
func filterGateway(state map[ir.ID]ir.Resource, gateway string) map[ir.ID]ir.Resource {
	out := map[ir.ID]ir.Resource{}
	addIfExists := func(id ir.ID) {
		if r, ok := state[id]; ok {
			out[id] = r
		}
	}
	listeners := map[string]bool{}
	for id, r := range state {
		if l, ok := r.(*ir.Listener); ok && l.Gateway == gateway {
			listeners[l.Name] = true
			out[id] = r
			addIfExists(ir.ID{Kind: ir.KindBind, Name: l.Bind})
			for _, c := range l.Certificates {
				addIfExists(ir.ID{Kind: ir.KindCertificate, Name: c})
			}
		}
	}
	var walkRef func(b ir.BackendRef)
	var walkFilters func(fs []ir.Filter)
	walkRef = func(b ir.BackendRef) {
		addIfExists(ir.ID{Kind: ir.KindBackend, Name: b.Backend})
		walkFilters(b.Filters)
	}
	walkFilters = func(fs []ir.Filter) {
		for _, f := range fs {
			if f.Mirror != nil {
				walkRef(f.Mirror.Backend)
			}
		}
	}
	for id, r := range state {
		if l4, ok := r.(*ir.L4Route); ok {
			for _, p := range l4.Parents {
				if listeners[p.Listener] {
					out[id] = r
					for _, b := range l4.Backends {
						walkRef(b)
					}
					break
				}
			}
			continue
		}
		rt, ok := r.(*ir.Route)
		if !ok {
			continue
		}
		for _, p := range rt.Parents {
			if listeners[p.Listener] {
				out[id] = r
				for _, b := range rt.Backends {
					walkRef(b)
				}
				walkFilters(rt.Filters)
				break
			}
		}
	}
	return out
}

// randomIR generates resources over small name pools so that references
// collide, appear and disappear often.
type randomIR struct{ rng *rand.Rand }

func (g randomIR) pick(prefix string, n int) string {
	return fmt.Sprintf("%s%d", prefix, g.rng.IntN(n))
}

func (g randomIR) backendRef() ir.BackendRef {
	b := ir.BackendRef{Backend: g.pick("k", 5), Weight: 1}
	if g.rng.IntN(4) == 0 {
		b.Backend = "" // invalid reference
	}
	if g.rng.IntN(4) == 0 {
		b.Filters = []ir.Filter{{Type: ir.FilterMirror, Mirror: &ir.Mirror{Backend: ir.BackendRef{Backend: g.pick("k", 5)}}}}
	}
	return b
}

func (g randomIR) resource() ir.Resource {
	switch g.rng.IntN(7) {
	case 0:
		return &ir.Bind{Name: g.pick("b", 3), Port: int32(g.rng.IntN(100))}
	case 1:
		l := &ir.Listener{Name: g.pick("l", 6), Gateway: g.pick("ns/g", 3), Bind: g.pick("b", 3)}
		for i := g.rng.IntN(3); i > 0; i-- {
			l.Certificates = append(l.Certificates, g.pick("c", 3))
		}
		return l
	case 2:
		return &ir.Certificate{Name: g.pick("c", 3), CertPEM: []byte{byte(g.rng.IntN(9))}}
	case 3:
		return &ir.Backend{Name: g.pick("k", 5), Ports: []ir.BackendPort{{Port: int32(g.rng.IntN(9))}}}
	case 4:
		r := &ir.L4Route{Name: g.pick("t", 4)}
		for i := g.rng.IntN(3); i > 0; i-- {
			r.Parents = append(r.Parents, ir.RouteParent{Listener: g.pick("l", 7)})
		}
		for i := g.rng.IntN(3); i > 0; i-- {
			r.Backends = append(r.Backends, ir.BackendRef{Backend: g.pick("k", 5), Weight: 1})
		}
		return r
	default:
		r := &ir.Route{Name: g.pick("r", 10)}
		for i := g.rng.IntN(3); i > 0; i-- {
			r.Parents = append(r.Parents, ir.RouteParent{Listener: g.pick("l", 7)}) // l6 never exists
		}
		for i := g.rng.IntN(3); i > 0; i-- {
			r.Backends = append(r.Backends, g.backendRef())
		}
		if g.rng.IntN(3) == 0 {
			r.Filters = []ir.Filter{{Type: ir.FilterMirror, Mirror: &ir.Mirror{Backend: g.backendRef()}}}
		}
		return r
	}
}

func (g randomIR) id() ir.ID {
	kinds := map[ir.Kind]string{ir.KindBind: "b3", ir.KindListener: "l6", ir.KindCertificate: "c3", ir.KindBackend: "k5", ir.KindRoute: "r10", ir.KindL4Route: "t4"}
	k := []ir.Kind{ir.KindBind, ir.KindListener, ir.KindCertificate, ir.KindBackend, ir.KindRoute, ir.KindL4Route}[g.rng.IntN(6)]
	var n int
	fmt.Sscanf(kinds[k][1:], "%d", &n)
	return ir.ID{Kind: k, Name: g.pick(kinds[k][:1], n)}
}

// mirror accumulates what a subscriber holds.
type mirror struct {
	sub     *Subscription
	gateway string
	held    map[ir.ID]ir.Resource
	version uint64
}

func (m *mirror) drain(t *testing.T) {
	d, ok := m.sub.take()
	if !ok {
		return
	}
	if d.Version < m.version {
		t.Fatalf("%s: version went back from %d to %d", m.gateway, m.version, d.Version)
	}
	m.version = d.Version
	for _, id := range d.Removes {
		delete(m.held, id)
	}
	for _, r := range d.Upserts {
		m.held[r.ResourceID()] = r
	}
}

func TestGatewaySubscriptionsMatchFilterProperty(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed*7))
		g := randomIR{rng}
		h := NewHub()
		var subs []*mirror
		for step := 0; step < 150; step++ {
			switch rng.IntN(10) {
			case 0: // a proxy connects (possibly a second replica of a Gateway)
				gw := g.pick("ns/g", 4) // ns/g3 never has listeners
				subs = append(subs, &mirror{sub: h.SubscribeGateway(gw), gateway: gw, held: map[ir.ID]ir.Resource{}})
			case 1: // a proxy goes away
				if len(subs) > 0 {
					i := rng.IntN(len(subs))
					subs[i].sub.Close()
					subs = append(subs[:i], subs[i+1:]...)
				}
			default:
				var ups []ir.Resource
				var rms []ir.ID
				for i := rng.IntN(4); i >= 0; i-- {
					if rng.IntN(3) == 0 {
						rms = append(rms, g.id())
					} else {
						ups = append(ups, g.resource())
					}
				}
				h.Publish(ups, rms)
			}
			for _, m := range subs {
				if rng.IntN(3) > 0 { // some subscribers lag and get coalesced deltas
					continue
				}
				m.drain(t)
				assertSame(t, seed, step, m, filterGateway(h.state, m.gateway))
			}
		}
		for _, m := range subs {
			m.drain(t)
			assertSame(t, seed, -1, m, filterGateway(h.state, m.gateway))
			m.sub.Close()
		}
		if len(h.views) != 0 {
			t.Fatalf("seed %d: %d views left after every subscription closed", seed, len(h.views))
		}
	}
}

func assertSame(t *testing.T, seed uint64, step int, m *mirror, want map[ir.ID]ir.Resource) {
	t.Helper()
	for id, r := range want {
		if m.held[id] != r {
			t.Fatalf("seed %d step %d %s: missing or stale %s (have %v)", seed, step, m.gateway, id, m.held[id])
		}
	}
	for id := range m.held {
		if _, ok := want[id]; !ok {
			t.Fatalf("seed %d step %d %s: holds %s which is not in its slice", seed, step, m.gateway, id)
		}
	}
}

func TestRouteReferencingBackendBringsIt(t *testing.T) {
	h := NewHub()
	h.Publish([]ir.Resource{
		&ir.Listener{Name: "ns/gw/http", Gateway: "ns/gw", Bind: ":80"},
		&ir.Bind{Name: ":80"},
		&ir.Backend{Name: "Service/ns/a"}, &ir.Backend{Name: "Service/ns/b"},
		&ir.Route{Name: "ns/r/0", Parents: []ir.RouteParent{{Listener: "ns/gw/http"}},
			Backends: []ir.BackendRef{{Backend: "Service/ns/a"}}},
	}, nil)
	s := h.SubscribeGateway("ns/gw")
	defer s.Close()
	d := next(t, s)
	if got := names(d.Upserts); fmt.Sprint(got) != "[Backend/Service/ns/a Bind/:80 Listener/ns/gw/http Route/ns/r/0]" {
		t.Fatalf("initial %v", got)
	}
	// The route switches to b: b arrives, a leaves.
	h.Publish([]ir.Resource{&ir.Route{Name: "ns/r/0", Parents: []ir.RouteParent{{Listener: "ns/gw/http"}},
		Backends: []ir.BackendRef{{Backend: "Service/ns/b"}}}}, nil)
	d = next(t, s)
	if got := names(d.Upserts); fmt.Sprint(got) != "[Backend/Service/ns/b Route/ns/r/0]" {
		t.Fatalf("upserts %v", got)
	}
	if fmt.Sprint(d.Removes) != "[Backend/Service/ns/a]" {
		t.Fatalf("removes %v", d.Removes)
	}
	// A change to the unreferenced backend is not sent.
	h.Publish([]ir.Resource{&ir.Backend{Name: "Service/ns/a", Ports: []ir.BackendPort{{Port: 1}}}}, nil)
	h.Publish([]ir.Resource{&ir.Backend{Name: "Service/ns/b", Ports: []ir.BackendPort{{Port: 1}}}}, nil)
	d = next(t, s)
	if got := names(d.Upserts); fmt.Sprint(got) != "[Backend/Service/ns/b]" || len(d.Removes) != 0 {
		t.Fatalf("delta %v %v", got, d.Removes)
	}
	if d.Version != h.Version() {
		t.Fatalf("delta version %d, hub %d", d.Version, h.Version())
	}
}
