package translate

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
)

// Layer-4 routes: TLSRoute (routed by the ClientHello's server name, on TLS
// listeners in Passthrough or Terminate mode) and TCPRoute (every connection
// of a TCP listener). Both have exactly one rule of weighted backendRefs, so
// each becomes one ir.L4Route. Several routes may attach to one listener
// (and server name); all are Accepted, and the proxy sends connections to the
// oldest (ir.L4Route.Created, then name), as the spec's conflict rule says.

func (t *Translator) translateTLSRoute(ctx *collection.Ctx, r *gwv1.TLSRoute) (*routeResult, bool) {
	rules := make([][]gwv1.BackendRef, len(r.Spec.Rules))
	for i := range r.Spec.Rules {
		rules[i] = r.Spec.Rules[i].BackendRefs
	}
	return t.translateL4Route(ctx, routeRef{Kind: "TLSRoute", Namespace: r.Namespace, Hostnames: r.Spec.Hostnames},
		&r.ObjectMeta, r.Spec.ParentRefs, rules)
}

func (t *Translator) translateTCPRoute(ctx *collection.Ctx, r *gwv1.TCPRoute) (*routeResult, bool) {
	rules := make([][]gwv1.BackendRef, len(r.Spec.Rules))
	for i := range r.Spec.Rules {
		rules[i] = r.Spec.Rules[i].BackendRefs
	}
	return t.translateL4Route(ctx, routeRef{Kind: "TCPRoute", Namespace: r.Namespace}, &r.ObjectMeta, r.Spec.ParentRefs, rules)
}

// translateL4Route attaches a TLSRoute or TCPRoute to its parents and
// resolves its backends. The CRDs allow one rule; should more arrive (the
// file source validates the same), their backends are pooled.
func (t *Translator) translateL4Route(ctx *collection.Ctx, ref routeRef, meta *metav1.ObjectMeta, parentRefs []gwv1.ParentReference, rules [][]gwv1.BackendRef) (*routeResult, bool) {
	outcomes := t.attachParents(ctx, ref, parentRefs)
	if len(outcomes) == 0 {
		return nil, false // not attached to anything of ours: no IR, no status
	}
	res := &routeResult{}
	var rr ruleResults
	l4 := &ir.L4Route{Name: ref.Kind + "/" + meta.Namespace + "/" + meta.Name, Created: meta.CreationTimestamp.Time}
	for i, backends := range rules {
		for j := range backends {
			br := &backends[j]
			field := fmt.Sprintf("spec.rules[%d].backendRefs[%d]", i, j)
			b := t.resolveBackend(ctx, routeRef{Kind: ref.Kind, Namespace: meta.Namespace}, br.BackendObjectReference, field, &rr)
			b.Weight = 1
			if br.Weight != nil {
				b.Weight = *br.Weight
			}
			l4.Backends = append(l4.Backends, b)
		}
	}
	l4.Parents = mergeParents(outcomes)
	if len(l4.Parents) > 0 {
		res.L4 = l4
		for _, p := range l4.Parents {
			res.Listeners = append(res.Listeners, p.Listener)
		}
		res.Backends = rr.backends
	}
	for _, o := range outcomes {
		for _, l := range o.pending {
			res.Listeners = appendUnique(res.Listeners, l)
		}
	}
	verdict := ruleVerdict{valid: len(rules), refReason: rr.refReason, refErrors: rr.refErrors}
	res.Status = routeStatus(ref.Kind, meta, outcomes, verdict, t.controller)
	return res, true
}

// listenerTLSMode is the IR TLS mode of a TLS listener (Terminate unless
// Passthrough is asked for), empty for other protocols.
func listenerTLSMode(l *gwv1.Listener) ir.TLSMode {
	if l.Protocol != gwv1.TLSProtocolType {
		return ""
	}
	if l.TLS != nil && l.TLS.Mode != nil && *l.TLS.Mode == gwv1.TLSModePassthrough {
		return ir.TLSPassthrough
	}
	return ir.TLSTerminate
}
