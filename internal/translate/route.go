package translate

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/source"
)

// routeResult is one HTTPRoute: one ir.Route per valid rule, the listeners
// it attached to, the backends it uses, and our status.parents entries.
type routeResult struct {
	Rules     []*ir.Route
	Listeners []string
	Backends  []string
	// Status is nil when no parentRef names a Gateway of ours.
	Status *ObjectStatus
	// L4 is the IR of a TLSRoute or TCPRoute (l4route.go).
	L4 *ir.L4Route
}

func (r *routeResult) listenerNames() []string { return r.Listeners }
func (r *routeResult) backendNames() []string  { return r.Backends }

// parentOutcome is what happened to one parentRef.
type parentOutcome struct {
	ref      gwv1.ParentReference
	attached []ir.RouteParent
	// pending are listeners the route attaches to that are accepted but
	// not programmed (unresolved certificate refs): the attachment counts in
	// status (route Accepted, listener attachedRoutes), the IR has nothing.
	pending []string
	reason  gwv1.RouteConditionReason // set when nothing attached
	message string
}

// translateRoute translates a route of any kind.
func (t *Translator) translateRoute(ctx *collection.Ctx, key string, obj source.Object) (*routeResult, bool) {
	switch r := obj.(type) {
	case *gwv1.HTTPRoute:
		return t.translateHTTPRoute(ctx, r)
	case *gwv1.GRPCRoute:
		return t.translateGRPCRoute(ctx, r)
	case *gwv1.TLSRoute:
		return t.translateTLSRoute(ctx, r)
	case *gwv1.TCPRoute:
		return t.translateTCPRoute(ctx, r)
	}
	return nil, false
}

func (t *Translator) translateHTTPRoute(ctx *collection.Ctx, hr *gwv1.HTTPRoute) (*routeResult, bool) {
	outcomes := t.attachParents(ctx, routeRef{Kind: "HTTPRoute", Namespace: hr.Namespace, Hostnames: hr.Spec.Hostnames}, hr.Spec.ParentRefs)
	if len(outcomes) == 0 {
		return nil, false // not attached to anything of ours: no IR, no status
	}
	return assembleRoute("HTTPRoute", &hr.ObjectMeta, outcomes, t.translateRules(ctx, hr), t.controller), true
}

// routeRef is what parentRef resolution needs to know about a route of any
// kind.
type routeRef struct {
	Kind      string // HTTPRoute, GRPCRoute, TLSRoute, TCPRoute
	Namespace string
	// Hostnames are the route's spec.hostnames (none for TCPRoute).
	Hostnames []gwv1.Hostname
}

// attachParents resolves every parentRef of a route; only refs that name a
// Gateway of ours produce an outcome.
func (t *Translator) attachParents(ctx *collection.Ctx, r routeRef, refs []gwv1.ParentReference) []parentOutcome {
	var outcomes []parentOutcome
	for _, ref := range refs {
		if o, ours := t.attachParent(ctx, r, ref); ours {
			outcomes = append(outcomes, o)
		}
	}
	return outcomes
}

// attachParent resolves one parentRef to a Gateway (its own listeners only)
// or a ListenerSet. ours is false when the ref does not name an existing
// Gateway of ours or a ListenerSet attached to one (then another controller
// owns the status).
func (t *Translator) attachParent(ctx *collection.Ctx, r routeRef, ref gwv1.ParentReference) (parentOutcome, bool) {
	o := parentOutcome{ref: ref}
	if ref.Group != nil && *ref.Group != gwv1.GroupName {
		return o, false
	}
	ns := r.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	key := ns + "/" + string(ref.Name)
	var listeners []*listenerResult
	parent := "Gateway"
	switch {
	case ref.Kind == nil || *ref.Kind == "Gateway":
		g, ok := collection.Fetch(ctx, t.gateways, key)
		if !ok {
			return o, false
		}
		listeners = g.Listeners
	case *ref.Kind == "ListenerSet":
		s, ok := collection.Fetch(ctx, t.listenerSetViews, key)
		if !ok {
			return o, false
		}
		if s.NotAccepted != "" {
			o.reason, o.message = gwv1.RouteReasonNotAllowedByListeners, "the ListenerSet is not attached to its Gateway: "+s.Message
			return o, true
		}
		listeners, parent = s.Listeners, "ListenerSet"
	default:
		return o, false
	}
	candidates := 0
	hostnameMiss := false
	for _, l := range listeners {
		if ref.SectionName != nil && string(*ref.SectionName) != l.Name {
			continue
		}
		if ref.Port != nil && int32(*ref.Port) != l.Port {
			continue
		}
		candidates++
		// Attachment depends on the listener being accepted and its
		// allowedRoutes, not on its references resolving.
		accepted := l.Ready || l.Conditions[0].Status == metav1.ConditionTrue
		if !accepted || !kindAllowed(l.Kinds, r.Kind) || !t.namespaceAllowed(ctx, l, r.Namespace) {
			continue
		}
		hosts, ok := intersectHostnames(l.Hostname, r.Hostnames)
		if !ok {
			hostnameMiss = true
			continue
		}
		if !l.Ready {
			o.pending = append(o.pending, l.Key)
			continue
		}
		o.attached = append(o.attached, ir.RouteParent{Listener: l.Key, Hostnames: hosts})
	}
	switch {
	case len(o.attached) > 0 || len(o.pending) > 0:
	case candidates == 0:
		o.reason, o.message = gwv1.RouteReasonNoMatchingParent, "no listener of the "+parent+" matches the parentRef's sectionName/port"
	case hostnameMiss:
		o.reason, o.message = gwv1.RouteReasonNoMatchingListenerHostname, "no listener hostname intersects the route's hostnames"
	default:
		o.reason, o.message = gwv1.RouteReasonNotAllowedByListeners, "no listener allows this route (allowedRoutes namespaces or kinds, or the listener is not valid)"
	}
	return o, true
}

func kindAllowed(kinds []gwv1.RouteGroupKind, kind string) bool {
	for _, k := range kinds {
		if string(k.Kind) == kind {
			return true
		}
	}
	return false
}

// namespaceAllowed applies a listener's allowedRoutes.namespaces to a route
// in routeNS.
func (t *Translator) namespaceAllowed(ctx *collection.Ctx, l *listenerResult, routeNS string) bool {
	return t.namespaceSelected(ctx, l.AllowFrom, l.Selector, l.Namespace, routeNS)
}

// intersectHostnames returns the hostnames a route serves on a listener. ok
// is false when the route names hostnames and none fits the listener.
func intersectHostnames(listener string, route []gwv1.Hostname) ([]string, bool) {
	if len(route) == 0 {
		return nil, true
	}
	var out []string
	for _, h := range route {
		rh := strings.ToLower(string(h))
		if listener == "" {
			out = appendUnique(out, rh)
			continue
		}
		switch {
		case rh == listener:
			out = appendUnique(out, rh)
		case wildcardMatches(listener, rh):
			out = appendUnique(out, rh)
		case wildcardMatches(rh, listener):
			out = appendUnique(out, listener)
		}
	}
	return out, len(out) > 0
}

// wildcardMatches reports whether pattern "*.suffix" covers host, which may
// itself be a more specific wildcard. "*.example.com" covers "a.example.com"
// and "*.a.example.com" but not "example.com".
func wildcardMatches(pattern, host string) bool {
	if !strings.HasPrefix(pattern, "*.") {
		return false
	}
	suffix := pattern[1:] // ".example.com"
	return len(host) > len(suffix) && strings.HasSuffix(host, suffix) && host != pattern
}

func appendUnique(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}

// mergeParents unions the listeners attached through every parentRef.
func mergeParents(outcomes []parentOutcome) []ir.RouteParent {
	byListener := map[string]*ir.RouteParent{}
	var order []string
	for _, o := range outcomes {
		for _, p := range o.attached {
			cur, seen := byListener[p.Listener]
			if !seen {
				cp := p
				cp.Hostnames = append([]string(nil), p.Hostnames...)
				byListener[p.Listener] = &cp
				order = append(order, p.Listener)
				continue
			}
			if len(cur.Hostnames) == 0 || len(p.Hostnames) == 0 {
				cur.Hostnames = nil // one attachment accepts any host
				continue
			}
			for _, h := range p.Hostnames {
				cur.Hostnames = appendUnique(cur.Hostnames, h)
			}
		}
	}
	sort.Strings(order)
	out := make([]ir.RouteParent, 0, len(order))
	for _, l := range order {
		out = append(out, *byListener[l])
	}
	return out
}

// ruleVerdict is what a route's rules contribute to its status, for any
// route kind.
type ruleVerdict struct {
	valid int // rules that translated
	// invalid describes the rules left out (unsupported or invalid values).
	invalid []string
	// refReason is set when some backendRef did not resolve; refErrors
	// name them.
	refReason gwv1.RouteConditionReason
	refErrors []string
}

func (rr ruleResults) verdict() ruleVerdict {
	return ruleVerdict{valid: len(rr.routes), invalid: rr.invalid, refReason: rr.refReason, refErrors: rr.refErrors}
}

// routeStatus builds the status.parents entries of our controller for a
// route of any kind.
func routeStatus(kind string, meta *metav1.ObjectMeta, outcomes []parentOutcome, rules ruleVerdict, controller string) *ObjectStatus {
	gen := meta.Generation
	st := &gwv1.RouteStatus{}
	for _, o := range outcomes {
		accepted := cond(gwv1.RouteConditionAccepted, true, gwv1.RouteReasonAccepted, "Route is attached", gen)
		if len(o.attached) == 0 && len(o.pending) == 0 {
			accepted = cond(gwv1.RouteConditionAccepted, false, o.reason, o.message, gen)
		} else if rules.valid == 0 && len(rules.invalid) > 0 {
			accepted = cond(gwv1.RouteConditionAccepted, false, gwv1.RouteReasonUnsupportedValue, strings.Join(rules.invalid, "; "), gen)
		}
		resolved := cond(gwv1.RouteConditionResolvedRefs, true, gwv1.RouteReasonResolvedRefs, "All references resolved", gen)
		if rules.refReason != "" {
			resolved = cond(gwv1.RouteConditionResolvedRefs, false, rules.refReason, strings.Join(rules.refErrors, "; "), gen)
		}
		conds := []metav1.Condition{accepted, resolved}
		if rules.valid > 0 && len(rules.invalid) > 0 {
			conds = append(conds, cond(gwv1.RouteConditionPartiallyInvalid, true, gwv1.RouteReasonUnsupportedValue,
				fmt.Sprintf("rules dropped: %s", strings.Join(rules.invalid, "; ")), gen))
		}
		st.Parents = append(st.Parents, gwv1.RouteParentStatus{ParentRef: o.ref,
			ControllerName: gwv1.GatewayController(controller), Conditions: conds})
	}
	return &ObjectStatus{Kind: kind, Namespace: meta.Namespace, Name: meta.Name, Route: st}
}
