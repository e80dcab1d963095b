package translate

import (
	"net"
	"reflect"
	"slices"
	"strconv"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
)

// IRChange is the IR difference produced by one translation batch.
type IRChange struct {
	Upserts []ir.Resource
	Removes []ir.ID
}

// StatusChange is the status difference produced by one translation batch.
type StatusChange struct {
	Updated []ObjectStatus
	// Removed lists ObjectStatus.Key() of objects we no longer report on.
	Removed []string
}

// OnIR registers fn to receive the IR difference of every batch that changed
// the IR. fn runs under the engine lock and must not block or call back.
func (t *Translator) OnIR(fn func(IRChange)) {
	var pending IRChange
	addList := func(olds, news []ir.Resource) {
		byID := map[ir.ID]ir.Resource{}
		for _, o := range olds {
			byID[o.ResourceID()] = o
		}
		for _, n := range news {
			id := n.ResourceID()
			if o, ok := byID[id]; !ok || !reflect.DeepEqual(o, n) {
				pending.Upserts = append(pending.Upserts, n)
			}
			delete(byID, id)
		}
		for id := range byID {
			pending.Removes = append(pending.Removes, id)
		}
	}
	subscribeIR(t.binds, func(b *ir.Bind) []ir.Resource { return one(b) }, addList)
	subscribeIR(t.certificates, func(c *ir.Certificate) []ir.Resource { return one(c) }, addList)
	subscribeIR(t.backends, func(b *ir.Backend) []ir.Resource { return one(b) }, addList)
	subscribeIR(t.gatewayStatus, func(g *gatewayFinal) []ir.Resource {
		out := make([]ir.Resource, len(g.Listeners))
		for i, l := range g.Listeners {
			out[i] = l
		}
		return out
	}, addList)
	subscribeIR(t.listenerSetFinal, func(f *listenerSetFinal) []ir.Resource {
		out := make([]ir.Resource, len(f.Listeners))
		for i, l := range f.Listeners {
			out[i] = l
		}
		return out
	}, addList)
	subscribeIR(t.policies, func(p *policyResult) []ir.Resource { return one(p.IR) }, addList)
	subscribeIR(t.routes, func(r *routeResult) []ir.Resource {
		out := make([]ir.Resource, len(r.Rules), len(r.Rules)+1)
		for i, rule := range r.Rules {
			out[i] = rule
		}
		if r.L4 != nil {
			out = append(out, r.L4)
		}
		return out
	}, addList)
	t.engine.AfterBatch(func() {
		if len(pending.Upserts) == 0 && len(pending.Removes) == 0 {
			return
		}
		fn(pending)
		pending = IRChange{}
	})
}

func one[T ir.Resource](v T) []ir.Resource {
	if reflect.ValueOf(v).IsNil() {
		return nil
	}
	return []ir.Resource{v}
}

func subscribeIR[T any](c collection.Collection[T], resources func(T) []ir.Resource, add func(olds, news []ir.Resource)) {
	c.Subscribe(func(changes []collection.Change[T]) {
		for _, ch := range changes {
			var olds, news []ir.Resource
			if !ch.Added {
				olds = resources(ch.Old)
			}
			if !ch.Deleted {
				news = resources(ch.New)
			}
			add(olds, news)
		}
	})
}

// OnStatus registers fn to receive the status difference of every batch that
// changed any status. fn runs under the engine lock and must not block.
func (t *Translator) OnStatus(fn func(StatusChange)) {
	var pending StatusChange
	track := func(old, new *ObjectStatus) {
		switch {
		case new != nil:
			pending.Updated = append(pending.Updated, *new)
		case old != nil:
			pending.Removed = append(pending.Removed, old.Key())
		}
	}
	t.classes.Subscribe(func(chs []collection.Change[*classResult]) {
		for _, ch := range chs {
			track(statusOf(ch.Old, func(c *classResult) *ObjectStatus { return &c.Status }), statusOf(ch.New, func(c *classResult) *ObjectStatus { return &c.Status }))
		}
	})
	t.gatewayStatus.Subscribe(func(chs []collection.Change[*gatewayFinal]) {
		for _, ch := range chs {
			track(statusOf(ch.Old, func(g *gatewayFinal) *ObjectStatus { return &g.Status }), statusOf(ch.New, func(g *gatewayFinal) *ObjectStatus { return &g.Status }))
		}
	})
	t.listenerSetFinal.Subscribe(func(chs []collection.Change[*listenerSetFinal]) {
		for _, ch := range chs {
			track(statusOf(ch.Old, func(f *listenerSetFinal) *ObjectStatus { return &f.Status }), statusOf(ch.New, func(f *listenerSetFinal) *ObjectStatus { return &f.Status }))
		}
	})
	t.routes.Subscribe(func(chs []collection.Change[*routeResult]) {
		for _, ch := range chs {
			oldS, newS := statusOf(ch.Old, func(r *routeResult) *ObjectStatus { return r.Status }), statusOf(ch.New, func(r *routeResult) *ObjectStatus { return r.Status })
			if oldS != nil && newS != nil && reflect.DeepEqual(*oldS, *newS) {
				continue
			}
			track(oldS, newS)
		}
	})
	t.policies.Subscribe(func(chs []collection.Change[*policyResult]) {
		for _, ch := range chs {
			track(statusOf(ch.Old, func(p *policyResult) *ObjectStatus { return &p.Status }), statusOf(ch.New, func(p *policyResult) *ObjectStatus { return &p.Status }))
		}
	})
	t.backendTLS.Subscribe(func(chs []collection.Change[*backendTLSResult]) {
		for _, ch := range chs {
			track(statusOf(ch.Old, func(p *backendTLSResult) *ObjectStatus { return &p.Status }), statusOf(ch.New, func(p *backendTLSResult) *ObjectStatus { return &p.Status }))
		}
	})
	t.engine.AfterBatch(func() {
		if len(pending.Updated) == 0 && len(pending.Removed) == 0 {
			return
		}
		fn(pending)
		pending = StatusChange{}
	})
}

func statusOf[T any](v *T, get func(*T) *ObjectStatus) *ObjectStatus {
	if v == nil {
		return nil
	}
	return get(v)
}

// OnGateways registers fn to receive, after every batch that changed them,
// the keys ("namespace/name") of our Gateways that were added, changed or
// removed. The provisioner uses it. fn runs under the engine lock.
func (t *Translator) OnGateways(fn func(keys []string)) {
	var keys []string
	t.gateways.Subscribe(func(chs []collection.Change[*gatewayResult]) {
		for _, ch := range chs {
			keys = append(keys, ch.Key)
		}
	})
	// The merged view changes when ListenerSets add or remove ports.
	t.listenerMerge.Subscribe(func(chs []collection.Change[*mergeResult]) {
		for _, ch := range chs {
			keys = append(keys, ch.Key)
		}
	})
	t.engine.AfterBatch(func() {
		if len(keys) > 0 {
			fn(keys)
			keys = nil
		}
	})
}

// ListenerSetPorts returns the ports that the ListenerSets attached to the
// Gateway key serve in addition to the Gateway's own listeners, ascending.
// It takes the engine lock: do not call it from a subscriber.
func (t *Translator) ListenerSetPorts(key string) []int32 {
	m, ok := t.listenerMerge.Get(key)
	g, _ := t.gateways.Get(key)
	if !ok || g == nil {
		return nil
	}
	own := map[int32]bool{}
	for _, l := range g.Listeners {
		own[l.Port] = true
	}
	var out []int32
	for bind := range m.Binds {
		_, port, _ := net.SplitHostPort(bindAddress(bind))
		p, err := strconv.Atoi(port)
		if err == nil && !own[int32(p)] {
			out = append(out, int32(p))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// OurGateway returns the Gateway object for key if it is one of ours. It
// takes the engine lock: do not call it from a subscriber.
func (t *Translator) OurGateway(key string) (*gwv1.Gateway, bool) {
	if _, ours := t.gateways.Get(key); !ours {
		return nil, false
	}
	return t.in.Gateways.Get(key)
}
