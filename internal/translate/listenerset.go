package translate

import (
	"fmt"
	"slices"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
)

// ListenerSets are translated in steps so that a change to one ListenerSet
// costs in proportion to what it changes, even with thousands of
// ListenerSets on one Gateway:
//
//	listenerSets         per ListenerSet: parent, allowedListeners, its
//	                     listeners translated on their own (certificates,
//	                     kinds)
//	listenerMerge        per Gateway: the merged listener list in precedence
//	                     order (Gateway, oldest ListenerSet, namespace/name),
//	                     the conflicts it finds and each socket's protocol
//	listenerSetConflicts per ListenerSet: its entry of the merge's conflicts
//	listenerSetViews     per ListenerSet: its listeners with the conflicts
//	                     applied; routes attach to these
//	listenerSetFinal     per ListenerSet: attached routes, ir.Listeners, status
//
// Outputs equal to their previous value stop propagation, so a new
// ListenerSet recomputes the merge (linear in the Gateway's sets) but only
// the views whose conflicts changed, and re-emits only what changed.

// listenerSetResult is one ListenerSet whose parent is a Gateway of ours.
type listenerSetResult struct {
	Key        string
	Namespace  string
	Name       string
	Generation int64
	Created    time.Time
	Gateway    string // parent Gateway key
	// NotAccepted is the ListenerSet-level reason it is not attached
	// (NotAllowed, ParentNotAccepted); empty when attached.
	NotAccepted gwv1.ListenerSetConditionReason
	Message     string
	Listeners   []*listenerResult
}

func (r *listenerSetResult) gatewayKeys() []string { return []string{r.Gateway} }

func (r *listenerSetResult) secretKeys() []string {
	var out []string
	for _, l := range r.Listeners {
		if l.Ready {
			out = append(out, l.Certificates...)
		}
	}
	return out
}

func (r *listenerSetResult) secretRefs() []string {
	var out []string
	for _, l := range r.Listeners {
		out = append(out, l.SecretRefs...)
	}
	return out
}

// translateListenerSet resolves a ListenerSet's parent and translates its
// listeners. ListenerSets whose parent is not a Gateway of ours produce
// nothing (no status: another controller may own them).
func (t *Translator) translateListenerSet(ctx *collection.Ctx, key string, ls *gwv1.ListenerSet) (*listenerSetResult, bool) {
	ref := ls.Spec.ParentRef
	if (ref.Group != nil && *ref.Group != gwv1.GroupName) || (ref.Kind != nil && *ref.Kind != "Gateway") {
		return nil, false
	}
	gwNS := ls.Namespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		gwNS = string(*ref.Namespace)
	}
	g, ok := collection.Fetch(ctx, t.gateways, gwNS+"/"+string(ref.Name))
	if !ok {
		return nil, false
	}
	r := &listenerSetResult{Key: key, Namespace: ls.Namespace, Name: ls.Name, Generation: ls.Generation,
		Created: ls.CreationTimestamp.Time, Gateway: g.Key}
	switch {
	case !t.namespaceSelected(ctx, g.ListenerSetsFrom, g.ListenerSetSelector, g.Namespace, ls.Namespace):
		r.NotAccepted = gwv1.ListenerSetReasonNotAllowed
		r.Message = "the parent Gateway's allowedListeners does not allow ListenerSets from this namespace"
		return r, true
	case g.AddressError != "" || g.ParamsError != "":
		r.NotAccepted = gwv1.ListenerSetReasonParentNotAccepted
		r.Message = "the parent Gateway is not accepted"
		return r, true
	}
	owner := listenerOwner{Kind: "ListenerSet", Namespace: ls.Namespace, Generation: ls.Generation,
		KeyPrefix: g.Key + "/" + key + "/", Frontend: g.Frontend, GatewayNamespace: g.Namespace,
		BindPrefix: t.bindPrefix(g.Key)}
	for i := range ls.Spec.Listeners {
		e := &ls.Spec.Listeners[i]
		l := gwv1.Listener{Name: e.Name, Hostname: e.Hostname, Port: e.Port, Protocol: e.Protocol,
			TLS: e.TLS, AllowedRoutes: e.AllowedRoutes}
		r.Listeners = append(r.Listeners, t.translateListener(ctx, owner, &l, g.Address))
	}
	// Within one ListenerSet the first listener wins, as in a Gateway.
	markConflicts(r.Listeners, ls.Generation)
	return r, true
}

// namespaceSelected applies a FromNamespaces rule (allowedRoutes or
// allowedListeners) owned by an object in ownerNS to an object in ns.
func (t *Translator) namespaceSelected(ctx *collection.Ctx, from gwv1.FromNamespaces, selector *metav1.LabelSelector, ownerNS, ns string) bool {
	switch from {
	case gwv1.NamespacesFromAll:
		return true
	case gwv1.NamespacesFromSame:
		return ownerNS == ns
	case gwv1.NamespacesFromSelector:
		if selector == nil {
			return false
		}
		sel, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			return false
		}
		set := labels.Set{"kubernetes.io/metadata.name": ns}
		if n, ok := collection.Fetch(ctx, t.in.Namespaces.Collection, ns); ok {
			for k, v := range n.Labels {
				set[k] = v
			}
		}
		return sel.Matches(set)
	default: // None
		return false
	}
}

// listenerConflict is why a ListenerSet listener lost to an earlier one.
type listenerConflict struct {
	Reason  gwv1.ListenerConditionReason
	Message string
}

// mergeResult is a Gateway's merged listener view: the conflicts of its
// ListenerSets' listeners (by ListenerSet key, then listener name) and the
// protocol of each socket in precedence order.
type mergeResult struct {
	Gateway   string
	Created   time.Time
	Conflicts map[string]map[string]listenerConflict
	// Sets are the keys of the Gateway's ListenerSets.
	Sets []string
	// Binds maps a bind name to the protocol of the first ready listener
	// on it, in precedence order.
	Binds map[string]ir.Protocol
}

func (m *mergeResult) bindNames() []string {
	out := make([]string, 0, len(m.Binds))
	for b := range m.Binds {
		out = append(out, b)
	}
	sort.Strings(out)
	return out
}

// mergeListeners computes a Gateway's merged listener view. Conflict
// messages never name the other listener or its owner: a ListenerSet's
// status must not reveal another tenant's objects.
func mergeListeners(g *gatewayResult, sets []*listenerSetResult) *mergeResult {
	m := &mergeResult{Gateway: g.Key, Created: g.Created, Binds: map[string]ir.Protocol{}}
	type bindHost struct{ bind, host string }
	protocols := map[string]gwv1.ProtocolType{} // bind -> protocol of the winner
	hostnames := map[bindHost]bool{}
	claim := func(l *listenerResult) {
		if _, ok := protocols[l.Bind]; !ok {
			protocols[l.Bind] = l.Protocol
			m.Binds[l.Bind] = ir.Protocol(l.Protocol)
		}
		hostnames[bindHost{l.Bind, l.Hostname}] = true
	}
	for _, l := range g.Listeners {
		if l.Ready {
			claim(l)
		}
	}
	// sets arrive sorted by key; a stable sort by creation time gives
	// (oldest, then namespace/name).
	slices.SortStableFunc(sets, func(a, b *listenerSetResult) int { return a.Created.Compare(b.Created) })
	for _, s := range sets {
		m.Sets = append(m.Sets, s.Key)
		if s.NotAccepted != "" {
			continue
		}
		for _, l := range s.Listeners {
			if !l.Ready {
				continue
			}
			var c *listenerConflict
			if p, ok := protocols[l.Bind]; ok && p != l.Protocol {
				c = &listenerConflict{gwv1.ListenerReasonProtocolConflict,
					fmt.Sprintf("port %d is already used with protocol %s by another listener of the Gateway", l.Port, p)}
			} else if hostnames[bindHost{l.Bind, l.Hostname}] {
				c = &listenerConflict{gwv1.ListenerReasonHostnameConflict,
					fmt.Sprintf("hostname %q on port %d is already used by another listener of the Gateway", l.Hostname, l.Port)}
			}
			if c == nil {
				claim(l)
				continue
			}
			if m.Conflicts == nil {
				m.Conflicts = map[string]map[string]listenerConflict{}
			}
			if m.Conflicts[s.Key] == nil {
				m.Conflicts[s.Key] = map[string]listenerConflict{}
			}
			m.Conflicts[s.Key][l.Name] = *c
		}
	}
	return m
}

// setConflicts splits a merge into one entry per ListenerSet (nil when it
// has no conflict), so that a change to one set's conflicts recomputes only
// that set's view.
func setConflicts(_ *collection.Ctx, _ string, m *mergeResult) []collection.Entry[map[string]listenerConflict] {
	out := make([]collection.Entry[map[string]listenerConflict], len(m.Sets))
	for i, key := range m.Sets {
		out[i] = collection.Entry[map[string]listenerConflict]{Key: key, Value: m.Conflicts[key]}
	}
	return out
}

// applyConflicts returns the ListenerSet with its merge conflicts applied
// (copies of the conflicted listeners; the input is shared and immutable).
func applyConflicts(s *listenerSetResult, conflicts map[string]listenerConflict) *listenerSetResult {
	if len(conflicts) == 0 {
		return s
	}
	out := *s
	out.Listeners = make([]*listenerResult, len(s.Listeners))
	for i, l := range s.Listeners {
		c, ok := conflicts[l.Name]
		if !ok {
			out.Listeners[i] = l
			continue
		}
		cp := *l
		cp.Ready = false
		cp.Conditions = append([]metav1.Condition(nil), l.Conditions...)
		cp.Conditions[0] = cond(gwv1.ListenerConditionAccepted, false, c.Reason, c.Message, s.Generation)
		cp.Conditions[2] = cond(gwv1.ListenerConditionConflicted, true, c.Reason, c.Message, s.Generation)
		out.Listeners[i] = &cp
	}
	return &out
}

// listenerSetFinal is a ListenerSet's programmed listeners and its status.
type listenerSetFinal struct {
	Listeners []*ir.Listener
	Status    ObjectStatus
}

// finishListenerSet adds what depends on routes, binds and proxies to a
// ListenerSet: attached routes, cross-Gateway socket conflicts, the
// ir.Listeners and the status.
func (t *Translator) finishListenerSet(ctx *collection.Ctx, s *listenerSetResult, routesByListener collection.Index[*routeResult]) (*listenerSetFinal, bool) {
	gen := s.Generation
	f := &listenerSetFinal{}
	st := &gwv1.ListenerSetStatus{}
	if s.NotAccepted != "" {
		st.Conditions = []metav1.Condition{
			cond(gwv1.ListenerSetConditionAccepted, false, s.NotAccepted, s.Message, gen),
			cond(gwv1.ListenerSetConditionProgrammed, false, s.NotAccepted, s.Message, gen),
		}
		f.Status = ObjectStatus{Kind: "ListenerSet", Namespace: s.Namespace, Name: s.Name, ListenerSet: st}
		return f, true
	}
	bindErrors := t.bindRejections(ctx, s.Gateway)
	programmed := 0
	for _, l := range s.Listeners {
		conds := append([]metav1.Condition(nil), l.Conditions...)
		ready := l.Ready
		notServing := gwv1.ListenerReasonInvalid
		if !ready && conds[2].Status == metav1.ConditionTrue {
			notServing = gwv1.ListenerConditionReason(conds[2].Reason)
		}
		if ready {
			if b, ok := collection.Fetch(ctx, t.binds, l.Bind); ok && b.Protocol != ir.Protocol(l.Protocol) {
				msg := fmt.Sprintf("port %d is already served with protocol %s by another Gateway", l.Port, b.Protocol)
				conds[0] = cond(gwv1.ListenerConditionAccepted, false, gwv1.ListenerReasonProtocolConflict, msg, gen)
				conds[2] = cond(gwv1.ListenerConditionConflicted, true, gwv1.ListenerReasonProtocolConflict, msg, gen)
				ready, notServing = false, gwv1.ListenerReasonProtocolConflict
			}
		}
		if ready {
			f.Listeners = append(f.Listeners, &ir.Listener{Name: l.Key, Gateway: s.Gateway, Bind: l.Bind,
				Hostname: l.Hostname, Protocol: ir.Protocol(l.Protocol), Certificates: l.Certificates,
				TLSMode: l.TLSMode, ClientValidation: l.ClientValidation})
		}
		if msg, failed := bindErrors[l.Bind]; ready && failed {
			conds[0] = cond(gwv1.ListenerConditionAccepted, false, gwv1.ListenerReasonPortUnavailable, "the proxy cannot listen: "+msg, gen)
			conds = append(conds, cond(gwv1.ListenerConditionProgrammed, false, gwv1.ListenerReasonInvalid, "the proxy cannot listen on this port", gen))
		} else if ready {
			programmed++
			conds = append(conds, cond(gwv1.ListenerConditionProgrammed, true, gwv1.ListenerReasonProgrammed, "Listener is serving", gen))
		} else {
			conds = append(conds, cond(gwv1.ListenerConditionProgrammed, false, notServing, "Listener is not serving: see its other conditions", gen))
		}
		kinds := l.Kinds
		if kinds == nil {
			kinds = []gwv1.RouteGroupKind{}
		}
		st.Listeners = append(st.Listeners, gwv1.ListenerEntryStatus{Name: gwv1.SectionName(l.Name),
			SupportedKinds: kinds, AttachedRoutes: int32(collection.CountIndex(ctx, routesByListener, l.Key)), Conditions: conds})
	}
	if programmed == 0 {
		msg := "no listener of the ListenerSet is valid: see status.listeners"
		st.Conditions = []metav1.Condition{
			cond(gwv1.ListenerSetConditionAccepted, false, gwv1.ListenerSetReasonListenersNotValid, msg, gen),
			cond(gwv1.ListenerSetConditionProgrammed, false, gwv1.ListenerSetReasonListenersNotValid, msg, gen),
		}
	} else {
		accepted := cond(gwv1.ListenerSetConditionAccepted, true, gwv1.ListenerSetReasonAccepted, "ListenerSet is attached to its Gateway", gen)
		if programmed < len(s.Listeners) {
			accepted = cond(gwv1.ListenerSetConditionAccepted, true, gwv1.ListenerSetReasonListenersNotValid,
				fmt.Sprintf("%d of %d listeners are not valid: see status.listeners", len(s.Listeners)-programmed, len(s.Listeners)), gen)
		}
		st.Conditions = []metav1.Condition{accepted,
			cond(gwv1.ListenerSetConditionProgrammed, true, gwv1.ListenerSetReasonProgrammed, "ListenerSet is serving", gen)}
	}
	f.Status = ObjectStatus{Kind: "ListenerSet", Namespace: s.Namespace, Name: s.Name, ListenerSet: st}
	return f, true
}

// attached reports whether the ListenerSet counts in its Gateway's
// status.attachedListenerSets: allowed, and at least one listener valid.
func (s *listenerSetResult) attached() bool {
	if s.NotAccepted != "" {
		return false
	}
	for _, l := range s.Listeners {
		if l.Ready {
			return true
		}
	}
	return false
}
