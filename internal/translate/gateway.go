package translate

import (
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/provision"
)

// gatewayResult is one Gateway of ours, translated without reading routes:
// its listeners with their own conditions. Route attachment counts are added
// by finishGateway, so a route change never recomputes this.
type gatewayResult struct {
	Key        string
	Namespace  string
	Name       string
	Generation int64
	Created    time.Time
	// Address is the IP the listeners bind in standalone mode (the first
	// IPAddress in spec.addresses), empty for all interfaces.
	Address string
	// StaticAddresses are the IPs spec.addresses asks for in Kubernetes
	// mode, where the proxy Service's load balancer must assign them.
	StaticAddresses []string
	// AddressError is set when spec.addresses cannot be honoured.
	AddressError string
	// ParamsError is set when spec.infrastructure.parametersRef names
	// something other than a gatehouse.dev GatewayParameters.
	ParamsError string
	Listeners   []*listenerResult
	// ListenerSetsFrom and ListenerSetSelector are spec.allowedListeners:
	// which ListenerSets may attach (None by default).
	ListenerSetsFrom    gwv1.FromNamespaces
	ListenerSetSelector *metav1.LabelSelector
	// Frontend is spec.tls.frontend; InsecureFrontend is set when any of it
	// uses AllowInsecureFallback.
	Frontend         *gwv1.FrontendTLSConfig
	InsecureFrontend bool
}

// listenerResult is one listener and what translation decided about it.
type listenerResult struct {
	Name string
	// Key is "namespace/gateway/listener" for a Gateway's own listener and
	// "namespace/gateway/lsNamespace/lsName/listener" for a ListenerSet's:
	// the Gateway's key is always its first two segments.
	Key string
	// Namespace is the namespace of the object that declares the listener
	// (allowedRoutes "Same" means this namespace).
	Namespace  string
	Port       int32
	Protocol   gwv1.ProtocolType
	Hostname   string
	Bind       string
	Kinds      []gwv1.RouteGroupKind
	AllowFrom  gwv1.FromNamespaces
	Selector   *metav1.LabelSelector
	Conditions []metav1.Condition // Accepted, ResolvedRefs, Conflicted
	// SecretRefs are the permitted certificate Secret keys the listener
	// names, whether or not they exist.
	SecretRefs []string
	// Certificates are the keys of the valid certificate Secrets, in order.
	Certificates []string
	// ClientValidation is the frontend certificate validation to apply.
	ClientValidation *ir.ClientValidation
	// Ready is true when the listener is accepted, unconflicted and its
	// references resolved; only ready listeners are programmed.
	Ready bool
	// TLSMode is set for TLS listeners (l4route.go).
	TLSMode ir.TLSMode
}

func (g *gatewayResult) bindNames() []string {
	var out []string
	for _, l := range g.Listeners {
		if l.Ready && !contains(out, l.Bind) {
			out = append(out, l.Bind)
		}
	}
	return out
}

func (g *gatewayResult) secretRefs() []string {
	var out []string
	for _, l := range g.Listeners {
		for _, c := range l.SecretRefs {
			out = appendUnique(out, c)
		}
	}
	return out
}

func (g *gatewayResult) secretKeys() []string {
	var out []string
	for _, l := range g.Listeners {
		if !l.Ready {
			continue
		}
		for _, c := range l.Certificates {
			if !contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// routeKinds lists, per listener protocol, the route kinds Gatehouse serves on
// it, in the order status.supportedKinds reports them (also the default of
// allowedRoutes.kinds). A protocol that is not listed is UnsupportedProtocol.
var routeKinds = map[gwv1.ProtocolType][]gwv1.Kind{
	gwv1.HTTPProtocolType:  {"HTTPRoute", "GRPCRoute"},
	gwv1.HTTPSProtocolType: {"HTTPRoute", "GRPCRoute"},
	gwv1.TLSProtocolType:   {"TLSRoute"}, // l4route.go
	gwv1.TCPProtocolType:   {"TCPRoute"}, // l4route.go
}

// listenerKinds returns the route kinds a listener can serve.
func listenerKinds(l *gwv1.Listener) []gwv1.Kind { return routeKinds[l.Protocol] }

// needsCertificates reports whether a listener terminates TLS itself.
func needsCertificates(l *gwv1.Listener) bool {
	switch l.Protocol {
	case gwv1.HTTPSProtocolType:
		return true
	case gwv1.TLSProtocolType:
		return l.TLS == nil || l.TLS.Mode == nil || *l.TLS.Mode == gwv1.TLSModeTerminate
	}
	return false
}

func routeKind(k gwv1.Kind) gwv1.RouteGroupKind {
	return gwv1.RouteGroupKind{Group: ptr(gwv1.Group(gwv1.GroupName)), Kind: k}
}

func ptr[T any](v T) *T { return &v }

// translateGateway translates a Gateway whose class is ours.
func (t *Translator) translateGateway(ctx *collection.Ctx, key string, gw *gwv1.Gateway) (*gatewayResult, bool) {
	if !t.classAccepts(ctx, string(gw.Spec.GatewayClassName)) {
		return nil, false // another controller's Gateway: no work, no status
	}
	g := &gatewayResult{Key: key, Namespace: gw.Namespace, Name: gw.Name, Generation: gw.Generation,
		Created: gw.CreationTimestamp.Time}
	ips, addrErr := provision.StaticAddresses(gw)
	switch {
	case addrErr != nil:
		g.AddressError = addrErr.Error()
	case t.gatewayService == nil && len(ips) > 0:
		// Standalone: bind the Gateway's own IPAddress.
		g.Address = ips[0]
	case t.gatewayService != nil:
		// Kubernetes: the proxy pod binds every interface; the addresses
		// are asked of the proxy Service's load balancer (provision).
		g.StaticAddresses = ips
	}
	if inf := gw.Spec.Infrastructure; inf != nil && inf.ParametersRef != nil {
		if ref := inf.ParametersRef; string(ref.Group) != v1alpha1.GroupName || ref.Kind != "GatewayParameters" {
			g.ParamsError = fmt.Sprintf("spec.infrastructure.parametersRef: %s/%s is not supported; use %s/GatewayParameters",
				ref.Group, ref.Kind, v1alpha1.GroupName)
		}
	}
	g.ListenerSetsFrom = gwv1.NamespacesFromNone
	if al := gw.Spec.AllowedListeners; al != nil && al.Namespaces != nil {
		if al.Namespaces.From != nil {
			g.ListenerSetsFrom = *al.Namespaces.From
		}
		g.ListenerSetSelector = al.Namespaces.Selector
	}
	owner := listenerOwner{Kind: "Gateway", Namespace: gw.Namespace, Generation: gw.Generation, KeyPrefix: key + "/",
		GatewayNamespace: gw.Namespace, BindPrefix: t.bindPrefix(key)}
	if gw.Spec.TLS != nil {
		owner.Frontend = gw.Spec.TLS.Frontend
		g.Frontend = gw.Spec.TLS.Frontend
		g.InsecureFrontend = insecureFrontend(gw.Spec.TLS.Frontend)
	}
	for i := range gw.Spec.Listeners {
		g.Listeners = append(g.Listeners, t.translateListener(ctx, owner, &gw.Spec.Listeners[i], g.Address))
	}
	markConflicts(g.Listeners, gw.Generation)
	return g, true
}

// listenerOwner is the object that declares a listener: a Gateway or a
// ListenerSet.
type listenerOwner struct {
	Kind       string // "Gateway" or "ListenerSet"
	Namespace  string
	Generation int64
	// KeyPrefix prefixes the listener name to form listenerResult.Key.
	KeyPrefix string
	// BindPrefix scopes socket names to one Gateway in Kubernetes mode,
	// where every Gateway has proxies of its own ("namespace/name#"); empty
	// in standalone mode, where Gateways share the process's sockets.
	BindPrefix string
	// Frontend is the parent Gateway's spec.tls.frontend (client
	// certificate validation), resolved in GatewayNamespace.
	Frontend         *gwv1.FrontendTLSConfig
	GatewayNamespace string
}

// bindPrefix returns the prefix of the Gateway's socket names: in
// Kubernetes mode each Gateway runs its own proxies, so Gateways never share
// (or conflict on) a socket.
func (t *Translator) bindPrefix(gatewayKey string) string {
	if t.gatewayService == nil {
		return ""
	}
	return gatewayKey + "#"
}

// bindAddress returns the address:port part of a socket name.
func bindAddress(bind string) string {
	if i := strings.LastIndexByte(bind, '#'); i >= 0 {
		return bind[i+1:]
	}
	return bind
}

// gatewayOfListener returns the Gateway key of a listenerResult.Key.
func gatewayOfListener(key string) string {
	i := strings.IndexByte(key, '/')
	if i < 0 {
		return key
	}
	j := strings.IndexByte(key[i+1:], '/')
	if j < 0 {
		return key
	}
	return key[:i+1+j]
}

func (t *Translator) translateListener(ctx *collection.Ctx, owner listenerOwner, l *gwv1.Listener, addr string) *listenerResult {
	gen := owner.Generation
	r := &listenerResult{
		Name: string(l.Name), Key: owner.KeyPrefix + string(l.Name), Namespace: owner.Namespace,
		Port: int32(l.Port), Protocol: l.Protocol, AllowFrom: gwv1.NamespacesFromSame,
		Bind: owner.BindPrefix + net.JoinHostPort(addr, strconv.Itoa(int(l.Port))),
	}
	if l.Hostname != nil {
		r.Hostname = string(*l.Hostname)
	}
	r.TLSMode = listenerTLSMode(l)
	if ar := l.AllowedRoutes; ar != nil && ar.Namespaces != nil {
		if ar.Namespaces.From != nil {
			r.AllowFrom = *ar.Namespaces.From
		}
		r.Selector = ar.Namespaces.Selector
	}
	accepted := cond(gwv1.ListenerConditionAccepted, true, gwv1.ListenerReasonAccepted, "Listener is valid", gen)
	resolved := cond(gwv1.ListenerConditionResolvedRefs, true, gwv1.ListenerReasonResolvedRefs, "All references resolved", gen)
	if len(listenerKinds(l)) == 0 {
		accepted = cond(gwv1.ListenerConditionAccepted, false, gwv1.ListenerReasonUnsupportedProtocol,
			fmt.Sprintf("protocol %q is not supported; use %s", l.Protocol, supportedProtocols()), gen)
	}
	var kindMsg string
	r.Kinds, kindMsg = supportedKinds(l)
	if kindMsg != "" {
		resolved = cond(gwv1.ListenerConditionResolvedRefs, false, gwv1.ListenerReasonInvalidRouteKinds, kindMsg, gen)
	}
	malformedOnly := false
	if needsCertificates(l) && accepted.Status == metav1.ConditionTrue {
		certs, reason, msg, malformed := t.listenerCertificates(ctx, owner, l, &r.SecretRefs)
		r.Certificates = certs
		if reason != "" {
			resolved = cond(gwv1.ListenerConditionResolvedRefs, false, reason, msg, gen)
		}
		malformedOnly = malformed
		if v := frontendConfig(owner.Frontend, int32(l.Port)); v != nil && accepted.Status == metav1.ConditionTrue {
			cv, reason, msg, noneValid := t.clientValidation(ctx, owner.GatewayNamespace, v)
			r.ClientValidation = cv
			if reason != "" && (resolved.Status == metav1.ConditionTrue || malformedOnly) {
				resolved = cond(gwv1.ListenerConditionResolvedRefs, false, reason, msg, gen)
				malformedOnly = false
			}
			if noneValid {
				accepted = cond(gwv1.ListenerConditionAccepted, false, gwv1.ListenerReasonNoValidCACertificate,
					"no CA certificate for client validation could be loaded: "+msg, gen)
			} else if reason != "" {
				malformedOnly = true // serve with the CAs that did load
			}
		}
	}
	r.Conditions = []metav1.Condition{accepted, resolved,
		cond(gwv1.ListenerConditionConflicted, false, gwv1.ListenerReasonNoConflicts, "No conflicts", gen)}
	// A listener with some invalid route kinds still serves the valid ones. A
	// listener whose Secrets all exist but some hold garbage stays programmed
	// so the proxy keeps serving the last valid certificate of those Secrets
	// (a bad rotation never takes a serving listener down); a listener with a
	// missing or forbidden Secret cannot serve.
	r.Ready = accepted.Status == metav1.ConditionTrue &&
		(resolved.Status == metav1.ConditionTrue || malformedOnly ||
			resolved.Reason == string(gwv1.ListenerReasonInvalidRouteKinds) && len(r.Kinds) > 0)
	return r
}

// supportedKinds intersects the listener's allowedRoutes.kinds with what we
// serve. The message is non-empty when some requested kind is unsupported.
func supportedKinds(l *gwv1.Listener) ([]gwv1.RouteGroupKind, string) {
	served := listenerKinds(l)
	if l.AllowedRoutes == nil || len(l.AllowedRoutes.Kinds) == 0 {
		out := make([]gwv1.RouteGroupKind, 0, len(served))
		for _, k := range served {
			out = append(out, routeKind(k))
		}
		return out, ""
	}
	var out []gwv1.RouteGroupKind
	var bad []string
	for _, k := range l.AllowedRoutes.Kinds {
		group := gwv1.GroupName
		if k.Group != nil {
			group = string(*k.Group)
		}
		if group == gwv1.GroupName && slices.Contains(served, k.Kind) {
			out = append(out, routeKind(k.Kind))
		} else {
			bad = append(bad, group+"/"+string(k.Kind))
		}
	}
	if len(bad) > 0 {
		return out, fmt.Sprintf("allowedRoutes.kinds: unsupported kinds %v; a %s listener supports %v", bad, l.Protocol, served)
	}
	return out, ""
}

// supportedProtocols lists the listener protocols served, sorted.
func supportedProtocols() string {
	var out []string
	for p := range routeKinds {
		out = append(out, string(p))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// listenerCertificates resolves certificateRefs to kubernetes.io/tls Secrets.
// It returns the keys of the Secrets to serve and, when any reference is not
// valid, the reason and a message naming it. malformed is true when every
// Secret exists and is permitted but some hold no valid certificate: those
// keys are still returned so the proxy keeps their last valid version.
func (t *Translator) listenerCertificates(ctx *collection.Ctx, owner listenerOwner, l *gwv1.Listener, refs *[]string) (keys []string, reason gwv1.ListenerConditionReason, msg string, malformed bool) {
	if l.TLS == nil || len(l.TLS.CertificateRefs) == 0 {
		return nil, gwv1.ListenerReasonInvalidCertificateRef, fmt.Sprintf("a %s listener that terminates TLS needs tls.certificateRefs", l.Protocol), false
	}
	if l.TLS.Mode != nil && *l.TLS.Mode != gwv1.TLSModeTerminate {
		return nil, gwv1.ListenerReasonInvalidCertificateRef, "tls.mode Passthrough is not supported on HTTPS listeners", false
	}
	var bad []string
	for i, ref := range l.TLS.CertificateRefs {
		field := fmt.Sprintf("tls.certificateRefs[%d]", i)
		if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
			return nil, gwv1.ListenerReasonInvalidCertificateRef, field + ": only core Secrets are supported", false
		}
		ns := owner.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		// ReferenceGrants are not inherited between a Gateway and its
		// ListenerSets: the grant must name the declaring kind.
		if ns != owner.Namespace && !t.referenceAllowed(ctx, gwv1.GroupName, owner.Kind, owner.Namespace, "", "Secret", ns, string(ref.Name)) {
			return nil, gwv1.ListenerReasonRefNotPermitted,
				fmt.Sprintf("%s: Secret %s/%s is in another namespace and no ReferenceGrant allows it", field, ns, ref.Name), false
		}
		key := ns + "/" + string(ref.Name)
		*refs = append(*refs, key)
		s, ok := collection.Fetch(ctx, t.in.Secrets.Collection, key)
		if !ok {
			return nil, gwv1.ListenerReasonInvalidCertificateRef, fmt.Sprintf("%s: Secret %s not found", field, key), false
		}
		if err := validCertificate(s); err != nil {
			bad = append(bad, fmt.Sprintf("%s: Secret %s: %v", field, key, err))
		}
		keys = append(keys, key)
	}
	if len(bad) > 0 {
		return keys, gwv1.ListenerReasonInvalidCertificateRef,
			strings.Join(bad, "; ") + " (the last valid certificate of that Secret, if any, keeps being served)", true
	}
	return keys, "", "", false
}

func validCertificate(s *corev1.Secret) error {
	crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	if len(crt) == 0 || len(key) == 0 {
		return fmt.Errorf("needs %s and %s", corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		return fmt.Errorf("not a valid certificate and key: %v", err)
	}
	return nil
}

// certificateFor turns a referenced Secret into a Certificate. A Secret with
// invalid data is passed on as is: the proxy rejects it and keeps serving the
// last valid version it had.
func certificateFor(key string, s *corev1.Secret) (*ir.Certificate, bool) {
	return &ir.Certificate{Name: key, CertPEM: s.Data[corev1.TLSCertKey], KeyPEM: s.Data[corev1.TLSPrivateKeyKey]}, true
}

// markConflicts applies the in-Gateway conflict rules: listeners sharing a
// port must share a protocol, and listeners sharing port and protocol must
// have distinct hostnames. The first listener in spec order wins.
func markConflicts(ls []*listenerResult, gen int64) {
	for i, l := range ls {
		if !l.Ready {
			continue
		}
		for _, prev := range ls[:i] {
			if !prev.Ready || prev.Port != l.Port {
				continue
			}
			var reason gwv1.ListenerConditionReason
			var msg string
			switch {
			case prev.Protocol != l.Protocol:
				reason, msg = gwv1.ListenerReasonProtocolConflict,
					fmt.Sprintf("port %d is already used with protocol %s by listener %s", l.Port, prev.Protocol, prev.Name)
			case prev.Hostname == l.Hostname:
				reason, msg = gwv1.ListenerReasonHostnameConflict,
					fmt.Sprintf("hostname %q on port %d is already used by listener %s", l.Hostname, l.Port, prev.Name)
			default:
				continue
			}
			l.Ready = false
			l.Conditions[0] = cond(gwv1.ListenerConditionAccepted, false, reason, msg, gen)
			l.Conditions[2] = cond(gwv1.ListenerConditionConflicted, true, reason, msg, gen)
			break
		}
	}
}
