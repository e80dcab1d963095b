package translate

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/provision"
)

// gatewayFinal is a Gateway's programmed listeners and its complete status.
type gatewayFinal struct {
	Listeners []*ir.Listener
	Status    ObjectStatus
}

// translateBind decides the protocol of a socket shared by the listeners of
// one or more Gateways (with their ListenerSets): the oldest Gateway's first
// listener on it, in merged precedence order, wins; the others with another
// protocol are marked conflicted by finishGateway and finishListenerSet.
func (t *Translator) translateBind(ctx *collection.Ctx, bind string, merges []collection.Entry[*mergeResult]) (*ir.Bind, bool) {
	var oldest *mergeResult
	for _, e := range merges {
		m := e.Value
		if _, ok := m.Binds[bind]; !ok {
			continue
		}
		if oldest == nil || m.Created.Before(oldest.Created) || m.Created.Equal(oldest.Created) && m.Gateway < oldest.Gateway {
			oldest = m
		}
	}
	if oldest == nil {
		return nil, false
	}
	host, port, _ := net.SplitHostPort(bindAddress(bind))
	p, _ := strconv.Atoi(port)
	return &ir.Bind{Name: bind, Address: host, Port: int32(p), Protocol: oldest.Binds[bind]}, true
}

// finishGateway adds what depends on other objects to a Gateway: conflicts
// with other Gateways on a shared socket, attached route counts, and the
// Gateway-level conditions.
func (t *Translator) finishGateway(ctx *collection.Ctx, g *gatewayResult, routesByListener collection.Index[*routeResult], attachedSets collection.Index[*listenerSetResult]) (*gatewayFinal, bool) {
	f := &gatewayFinal{}
	st := &gwv1.GatewayStatus{}
	if g.ListenerSetsFrom != gwv1.NamespacesFromNone {
		st.AttachedListenerSets = ptr(int32(collection.CountIndex(ctx, attachedSets, g.Key)))
	}
	programmed := 0
	bindErrors := t.bindRejections(ctx, g.Key)
	for _, l := range g.Listeners {
		conds := append([]metav1.Condition(nil), l.Conditions...)
		ready := l.Ready
		if ready {
			if b, ok := collection.Fetch(ctx, t.binds, l.Bind); ok && b.Protocol != ir.Protocol(l.Protocol) {
				msg := fmt.Sprintf("port %d is already served with protocol %s by another Gateway", l.Port, b.Protocol)
				conds[0] = cond(gwv1.ListenerConditionAccepted, false, gwv1.ListenerReasonProtocolConflict, msg, g.Generation)
				conds[2] = cond(gwv1.ListenerConditionConflicted, true, gwv1.ListenerReasonProtocolConflict, msg, g.Generation)
				ready = false
			}
		}
		if ready {
			// The listener stays in the IR even when its proxy could not open
			// the socket, so the proxy keeps trying (a freed port is picked
			// up) and the report does not flap.
			f.Listeners = append(f.Listeners, &ir.Listener{Name: l.Key, Gateway: g.Key, Bind: l.Bind,
				Hostname: l.Hostname, Protocol: ir.Protocol(l.Protocol), Certificates: l.Certificates,
				TLSMode: l.TLSMode, ClientValidation: l.ClientValidation})
		}
		if msg, failed := bindErrors[l.Bind]; ready && failed {
			conds[0] = cond(gwv1.ListenerConditionAccepted, false, gwv1.ListenerReasonPortUnavailable, "the proxy cannot listen: "+msg, g.Generation)
			conds = append(conds, cond(gwv1.ListenerConditionProgrammed, false, gwv1.ListenerReasonInvalid, "the proxy cannot listen on this port", g.Generation))
		} else if ready {
			programmed++
			conds = append(conds, cond(gwv1.ListenerConditionProgrammed, true, gwv1.ListenerReasonProgrammed, "Listener is serving", g.Generation))
		} else {
			conds = append(conds, cond(gwv1.ListenerConditionProgrammed, false, gwv1.ListenerReasonInvalid, "Listener is not serving: see its other conditions", g.Generation))
		}
		// Routes attach to accepted listeners whether or not they are
		// programmed (e.g. a missing certificate Secret).
		attached := collection.CountIndex(ctx, routesByListener, l.Key)
		kinds := l.Kinds
		if kinds == nil {
			kinds = []gwv1.RouteGroupKind{}
		}
		st.Listeners = append(st.Listeners, gwv1.ListenerStatus{Name: gwv1.SectionName(l.Name),
			SupportedKinds: kinds, AttachedRoutes: int32(attached), Conditions: conds})
	}
	st.Conditions = gatewayConditions(g, programmed)
	if g.InsecureFrontend {
		st.Conditions = append(st.Conditions, cond(gwv1.GatewayConditionInsecureFrontendValidationMode, true,
			gwv1.GatewayReasonConfigurationChanged,
			"client certificate validation uses AllowInsecureFallback: clients without a valid certificate are accepted", g.Generation))
	}
	if c, ok := t.gatewayClientCertCondition(ctx, g.Key, g.Generation); ok { // backendtls.go
		st.Conditions = append(st.Conditions, c)
	}
	switch {
	case t.gatewayService != nil:
		svcKey := t.gatewayService(g.Namespace, g.Name)
		svc, _ := collection.Fetch(ctx, t.in.Services.Collection, svcKey)
		st.Addresses = provision.GatewayAddresses(svc)
		if c, ok := addressCondition(g, svcKey, st.Addresses); ok && st.Conditions[1].Status == metav1.ConditionTrue {
			st.Conditions[1] = c
		}
	case g.Address != "":
		st.Addresses = []gwv1.GatewayStatusAddress{{Type: ptr(gwv1.IPAddressType), Value: g.Address}}
	}
	f.Status = ObjectStatus{Kind: "Gateway", Namespace: g.Namespace, Name: g.Name, Gateway: st}
	return f, true
}

func gatewayConditions(g *gatewayResult, programmed int) []metav1.Condition {
	gen := g.Generation
	if g.ParamsError != "" {
		return []metav1.Condition{
			cond(gwv1.GatewayConditionAccepted, false, gwv1.GatewayReasonInvalidParameters, g.ParamsError, gen),
			cond(gwv1.GatewayConditionProgrammed, false, gwv1.GatewayReasonInvalid, g.ParamsError, gen),
		}
	}
	if g.AddressError != "" {
		return []metav1.Condition{
			cond(gwv1.GatewayConditionAccepted, false, gwv1.GatewayReasonUnsupportedAddress, g.AddressError, gen),
			cond(gwv1.GatewayConditionProgrammed, false, gwv1.GatewayReasonInvalid, g.AddressError, gen),
		}
	}
	accepted := cond(gwv1.GatewayConditionAccepted, true, gwv1.GatewayReasonAccepted, "Gateway is valid", gen)
	if programmed < len(g.Listeners) {
		msg := fmt.Sprintf("%d of %d listeners are not valid: see status.listeners", len(g.Listeners)-programmed, len(g.Listeners))
		accepted = cond(gwv1.GatewayConditionAccepted, programmed > 0 || len(g.Listeners) == 0, gwv1.GatewayReasonListenersNotValid, msg, gen)
	}
	prog := cond(gwv1.GatewayConditionProgrammed, true, gwv1.GatewayReasonProgrammed, "Gateway is serving", gen)
	if programmed == 0 && len(g.Listeners) > 0 {
		prog = cond(gwv1.GatewayConditionProgrammed, false, gwv1.GatewayReasonInvalid, "No listener is serving", gen)
	}
	return []metav1.Condition{accepted, prog}
}

// addressCondition returns the Programmed=False condition of a Gateway
// whose proxy Service has no address yet, or lacks one of the static
// addresses spec.addresses asks for: AddressNotAssigned while the load
// balancer has assigned nothing, AddressNotUsable when it assigned others.
func addressCondition(g *gatewayResult, svcKey string, assigned []gwv1.GatewayStatusAddress) (metav1.Condition, bool) {
	if len(g.StaticAddresses) == 0 {
		if len(assigned) > 0 {
			return metav1.Condition{}, false
		}
		return cond(gwv1.GatewayConditionProgrammed, false, gwv1.GatewayReasonAddressNotAssigned,
			"waiting for the proxy Service to get an address", g.Generation), true
	}
	have := map[string]bool{}
	var got []string
	for _, a := range assigned {
		got = append(got, a.Value)
		if ip, err := netip.ParseAddr(a.Value); err == nil {
			have[ip.String()] = true
		}
	}
	var missing []string
	for _, ip := range g.StaticAddresses {
		if !have[ip] {
			missing = append(missing, ip)
		}
	}
	switch {
	case len(missing) == 0:
		return metav1.Condition{}, false
	case len(assigned) == 0:
		return cond(gwv1.GatewayConditionProgrammed, false, gwv1.GatewayReasonAddressNotAssigned,
			fmt.Sprintf("waiting for the load balancer of Service %s to assign %s (spec.addresses)",
				svcKey, strings.Join(missing, ", ")), g.Generation), true
	}
	return cond(gwv1.GatewayConditionProgrammed, false, gwv1.GatewayReasonAddressNotUsable,
		fmt.Sprintf("the load balancer of Service %s did not assign %s (spec.addresses); it assigned %s",
			svcKey, strings.Join(missing, ", "), strings.Join(got, ", ")), g.Generation), true
}

// bindRejections returns, by Bind name, why the proxies serving gateway
// could not open a socket.
func (t *Translator) bindRejections(ctx *collection.Ctx, gateway string) map[string]string {
	out := map[string]string{}
	for _, key := range []string{"", gateway} {
		rej, _ := collection.Fetch(ctx, t.in.ProxyRejections.Collection, key)
		for _, r := range rej {
			if r.ID.Kind == ir.KindBind {
				out[r.ID.Name] = r.Reason
			}
		}
	}
	return out
}
