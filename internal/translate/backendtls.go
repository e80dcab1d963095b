package translate

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
)

// BackendTLSPolicy (gateway.networking.k8s.io/v1) makes the proxy originate
// TLS to a Service: the policy's CA certificates (or the system roots), SNI
// and verified name from validation.hostname, or validation.subjectAltNames.
//
// A policy targets Services (sectionName: one port, by name). When several
// policies target the same Service and sectionName, the oldest (then
// namespace/name first) wins and the others are Accepted=False/Conflicted.
// A policy without a valid CA certificate is Accepted=False
// (NoValidCACertificate) and routes to the Service it governs get
// ResolvedRefs=False and answer 5xx: traffic never goes out unverified.
//
// The proxy keeps one TLS configuration per Backend, so a port named by a
// policy's sectionName gets a Backend of its own ("Service/ns/name:port",
// see serviceBackendFor); the other ports share the Service's Backend and
// the policy that targets the whole Service.

// backendTLSKind is the status Kind of a BackendTLSPolicy.
const backendTLSKind = "BackendTLSPolicy"

// routeReasonInvalidBackendTLS is the ResolvedRefs reason of a route whose
// backend Service is governed by a BackendTLSPolicy that cannot be applied.
const routeReasonInvalidBackendTLS gwv1.RouteConditionReason = "InvalidBackendTLSPolicy"

// backendTLSResult is one BackendTLSPolicy's status: one ancestor per
// Gateway of ours whose routes use a targeted Service.
type backendTLSResult struct {
	Status ObjectStatus
}

// backendTLSTargets indexes policies by the Services they target
// ("namespace/name").
func backendTLSTargets(p *gwv1.BackendTLSPolicy) []string {
	var out []string
	for _, r := range p.Spec.TargetRefs {
		if r.Group == "" && r.Kind == "Service" {
			out = appendUnique(out, p.Namespace+"/"+string(r.Name))
		}
	}
	return out
}

// backendTLSEval is what a policy's validation section resolves to.
type backendTLSEval struct {
	tls *ir.UpstreamTLS // always set; Invalid says why it cannot be used
	// accepted is the Accepted condition; resolved the ResolvedRefs one.
	acceptedOK     bool
	acceptedReason gwv1.PolicyConditionReason
	acceptedMsg    string
	resolvedOK     bool
	resolvedReason gwv1.PolicyConditionReason
	resolvedMsg    string
}

// evalBackendTLS resolves a policy's CA certificates and names.
func (t *Translator) evalBackendTLS(ctx *collection.Ctx, p *gwv1.BackendTLSPolicy) backendTLSEval {
	v := p.Spec.Validation
	ev := backendTLSEval{tls: &ir.UpstreamTLS{ServerName: string(v.Hostname)},
		acceptedOK: true, acceptedReason: gwv1.PolicyReasonAccepted, acceptedMsg: "Policy is accepted",
		resolvedOK: true, resolvedReason: gwv1.BackendTLSPolicyReasonResolvedRefs, resolvedMsg: "All references resolved"}
	for _, san := range v.SubjectAltNames {
		switch san.Type {
		case gwv1.HostnameSubjectAltNameType:
			ev.tls.SubjectAltNames = append(ev.tls.SubjectAltNames, ir.SubjectAltName{Type: ir.SANHostname, Value: string(san.Hostname)})
		case gwv1.URISubjectAltNameType:
			ev.tls.SubjectAltNames = append(ev.tls.SubjectAltNames, ir.SubjectAltName{Type: ir.SANURI, Value: string(san.URI)})
		}
	}
	if wk := v.WellKnownCACertificates; wk != nil && *wk != "" {
		if *wk != gwv1.WellKnownCACertificatesSystem || len(v.CACertificateRefs) > 0 {
			ev.invalid(gwv1.PolicyReasonInvalid, fmt.Sprintf("spec.validation.wellKnownCACertificates %q is not supported; use System (and no caCertificateRefs)", *wk))
		}
		return ev // CACertPEM empty: the system roots
	}
	var bundle []byte
	var problems []string
	for i, ref := range v.CACertificateRefs {
		field := fmt.Sprintf("spec.validation.caCertificateRefs[%d]", i)
		if ref.Group != "" || ref.Kind != "ConfigMap" {
			problems = append(problems, fmt.Sprintf("%s: kind %s/%s is not supported; use a ConfigMap with key ca.crt", field, ref.Group, ref.Kind))
			ev.unresolved(gwv1.BackendTLSPolicyReasonInvalidKind)
			continue
		}
		cm, ok := collection.Fetch(ctx, t.in.ConfigMaps.Collection, p.Namespace+"/"+string(ref.Name))
		if msg := caBundleProblem(cm, ok); msg != "" {
			problems = append(problems, fmt.Sprintf("%s: ConfigMap %s/%s %s", field, p.Namespace, ref.Name, msg))
			ev.unresolved(gwv1.BackendTLSPolicyReasonInvalidCACertificateRef)
			continue
		}
		bundle = append(bundle, cm.Data["ca.crt"]...)
		bundle = append(bundle, '\n')
	}
	if len(problems) > 0 {
		ev.resolvedOK, ev.resolvedMsg = false, strings.Join(problems, "; ")
	}
	if len(bundle) == 0 {
		ev.invalid(gwv1.BackendTLSPolicyReasonNoValidCACertificate, "no valid CA certificate: "+ev.resolvedMsg)
		return ev
	}
	ev.tls.CACertPEM = bundle
	return ev
}

func (ev *backendTLSEval) unresolved(reason gwv1.PolicyConditionReason) {
	if ev.resolvedOK {
		ev.resolvedOK, ev.resolvedReason = false, reason
	}
}

func (ev *backendTLSEval) invalid(reason gwv1.PolicyConditionReason, msg string) {
	ev.acceptedOK, ev.acceptedReason, ev.acceptedMsg = false, reason, msg
	ev.tls = &ir.UpstreamTLS{ServerName: ev.tls.ServerName, Invalid: "BackendTLSPolicy: " + msg}
}

// caBundleProblem says what is wrong with a CA ConfigMap, or "".
func caBundleProblem(cm *corev1.ConfigMap, found bool) string {
	if !found {
		return "not found"
	}
	data, ok := cm.Data["ca.crt"]
	if !ok {
		return "has no key ca.crt"
	}
	rest, n := []byte(data), 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Sprintf("key ca.crt holds an invalid certificate: %v", err)
		}
		n++
	}
	if n == 0 {
		return "key ca.crt holds no PEM certificate"
	}
	return ""
}

// policyOlder orders policies for conflict resolution: oldest first, then
// namespace/name.
func policyOlder(a, b *gwv1.BackendTLSPolicy) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// targetsSection reports whether p targets Service svc ("namespace/name")
// with exactly section ("" for the whole Service).
func targetsSection(p *gwv1.BackendTLSPolicy, svc, section string) bool {
	for _, r := range p.Spec.TargetRefs {
		if r.Group == "" && r.Kind == "Service" && p.Namespace+"/"+string(r.Name) == svc && string(deref(r.SectionName)) == section {
			return true
		}
	}
	return false
}

// winningPolicy returns the policy that governs Service svc's section ("":
// the whole Service), if any.
func (t *Translator) winningPolicy(ctx *collection.Ctx, svc, section string) *gwv1.BackendTLSPolicy {
	var best *gwv1.BackendTLSPolicy
	for _, e := range collection.FetchIndex(ctx, t.backendTLSByService, svc) {
		if targetsSection(e.Value, svc, section) && (best == nil || policyOlder(e.Value, best)) {
			best = e.Value
		}
	}
	return best
}

// policyForPort returns the policy that governs one port of a Service: one
// naming the port wins over one naming the whole Service.
func (t *Translator) policyForPort(ctx *collection.Ctx, svc *corev1.Service, port int32) *gwv1.BackendTLSPolicy {
	key := svc.Namespace + "/" + svc.Name
	for _, sp := range svc.Spec.Ports {
		if sp.Port == port && sp.Name != "" {
			if p := t.winningPolicy(ctx, key, sp.Name); p != nil {
				return p
			}
		}
	}
	return t.winningPolicy(ctx, key, "")
}

// backendTLSProblem is, for a route's reference to a Service port, why the
// BackendTLSPolicy governing it cannot be applied ("" when there is none or
// it is valid).
func (t *Translator) backendTLSProblem(ctx *collection.Ctx, svc *corev1.Service, port int32) string {
	p := t.policyForPort(ctx, svc, port)
	if p == nil {
		return ""
	}
	if ev := t.evalBackendTLS(ctx, p); !ev.acceptedOK {
		return fmt.Sprintf("BackendTLSPolicy %s/%s cannot be applied: %s", p.Namespace, p.Name, ev.acceptedMsg)
	}
	return ""
}

// backendTLSFor returns the upstream TLS of a Service backend: for a
// port-specific backend (port != 0) that of the policy naming the port, for
// the Service's backend that of the policy naming the whole Service (nil
// when there is none), with the client certificate of a Gateway whose
// routes use it. routes reads the routes that use the backend; it is called
// only when a policy applies.
func (t *Translator) backendTLSFor(ctx *collection.Ctx, svc *corev1.Service, port int32, routes func() []collection.Entry[*routeResult]) *ir.UpstreamTLS {
	key := svc.Namespace + "/" + svc.Name
	if collection.CountIndex(ctx, t.backendTLSByService, key) == 0 {
		return nil
	}
	section := ""
	if port != 0 {
		section = servicePortName(svc, port)
	}
	p := t.winningPolicy(ctx, key, section)
	if p == nil {
		return nil
	}
	tls := t.evalBackendTLS(ctx, p).tls
	if tls.Invalid == "" {
		tls.ClientCertPEM, tls.ClientKeyPEM = t.gatewayClientCertificate(ctx, routes())
	}
	return tls
}

// serviceBackendFor names the IR Backend a route's reference to a Service
// port uses. The proxy keeps one TLS configuration per Backend, so a port
// that a BackendTLSPolicy names by sectionName gets a Backend of its own,
// "Service/namespace/name:port"; every other port shares the Service's.
func (t *Translator) serviceBackendFor(ctx *collection.Ctx, svc *corev1.Service, port int32) string {
	key := svc.Namespace + "/" + svc.Name
	if collection.CountIndex(ctx, t.backendTLSByService, key) > 0 {
		if name := servicePortName(svc, port); name != "" && t.winningPolicy(ctx, key, name) != nil {
			return serviceBackendName(key) + ":" + strconv.Itoa(int(port))
		}
	}
	return serviceBackendName(key)
}

// splitServicePort splits a Service backend key "ns/name:port" into the
// Service key and the port (0 for "ns/name").
func splitServicePort(key string) (string, int32) {
	i := strings.LastIndexByte(key, ':')
	if i < 0 {
		return key, 0
	}
	p, err := strconv.Atoi(key[i+1:])
	if err != nil {
		return key, 0
	}
	return key[:i], int32(p)
}

// onlyPort keeps the given port of a port-specific backend (all for 0).
func onlyPort(ports []ir.BackendPort, port int32) []ir.BackendPort {
	if port == 0 {
		return ports
	}
	for _, p := range ports {
		if p.Port == port {
			return []ir.BackendPort{p}
		}
	}
	return nil
}

func servicePortName(svc *corev1.Service, port int32) string {
	for _, sp := range svc.Spec.Ports {
		if sp.Port == port {
			return sp.Name
		}
	}
	return ""
}

// gatewayClientCertificate returns the client certificate (Gateway
// spec.tls.backend.clientCertificateRef) the proxy presents to a backend
// that the given routes use. The IR has one Backend per Service shared by
// every Gateway, so when several Gateways with different certificates use
// it, the oldest Gateway's (then namespace/name first) is presented.
func (t *Translator) gatewayClientCertificate(ctx *collection.Ctx, routes []collection.Entry[*routeResult]) (certPEM, keyPEM []byte) {
	var best *gwv1.Gateway
	for _, e := range routes {
		for _, l := range e.Value.Listeners {
			gw, ok := collection.Fetch(ctx, t.in.Gateways.Collection, gatewayOfListener(l))
			if !ok || clientCertRef(gw) == nil {
				continue
			}
			if best == nil || gw.CreationTimestamp.Before(&best.CreationTimestamp) ||
				(gw.CreationTimestamp.Equal(&best.CreationTimestamp) && gw.Namespace+"/"+gw.Name < best.Namespace+"/"+best.Name) {
				best = gw
			}
		}
	}
	if best == nil {
		return nil, nil
	}
	certPEM, keyPEM, _, _ = t.resolveClientCertificate(ctx, best)
	return certPEM, keyPEM
}

// resolveClientCertificate resolves a Gateway's clientCertificateRef. When
// it is not usable, reason and msg say why (the Gateway's ResolvedRefs
// condition) and no certificate is returned.
func (t *Translator) resolveClientCertificate(ctx *collection.Ctx, gw *gwv1.Gateway) (certPEM, keyPEM []byte, reason gwv1.GatewayConditionReason, msg string) {
	ref := clientCertRef(gw)
	const field = "spec.tls.backend.clientCertificateRef"
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
		return nil, nil, gwv1.GatewayReasonInvalidClientCertificateRef,
			fmt.Sprintf("%s: kind %s/%s is not supported; use a kubernetes.io/tls Secret", field, deref(ref.Group), deref(ref.Kind))
	}
	key, ok := t.clientCertSecretKey(ctx, gw)
	if !ok {
		return nil, nil, gwv1.GatewayReasonRefNotPermitted,
			fmt.Sprintf("%s: Secret %s is in another namespace and no ReferenceGrant allows it", field, gatewayClientCertRefs(gw)[0])
	}
	s, found := collection.Fetch(ctx, t.in.Secrets.Collection, key)
	if !found {
		return nil, nil, gwv1.GatewayReasonInvalidClientCertificateRef, fmt.Sprintf("%s: Secret %s not found", field, key)
	}
	certPEM, keyPEM = s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, nil, gwv1.GatewayReasonInvalidClientCertificateRef,
			fmt.Sprintf("%s: Secret %s does not hold a valid certificate and key in tls.crt/tls.key: %v", field, key, err)
	}
	return certPEM, keyPEM, "", ""
}

// gatewayClientCertCondition is the Gateway's ResolvedRefs condition about
// its backend client certificate; ok is false when it names none.
func (t *Translator) gatewayClientCertCondition(ctx *collection.Ctx, gatewayKey string, gen int64) (metav1.Condition, bool) {
	gw, found := collection.Fetch(ctx, t.in.Gateways.Collection, gatewayKey)
	if !found || clientCertRef(gw) == nil {
		return metav1.Condition{}, false
	}
	if _, _, reason, msg := t.resolveClientCertificate(ctx, gw); reason != "" {
		return cond(gwv1.GatewayConditionResolvedRefs, false, reason, msg, gen), true
	}
	return cond(gwv1.GatewayConditionResolvedRefs, true, gwv1.GatewayReasonResolvedRefs, "All references resolved", gen), true
}

func clientCertRef(gw *gwv1.Gateway) *gwv1.SecretObjectReference {
	if gw.Spec.TLS == nil || gw.Spec.TLS.Backend == nil {
		return nil
	}
	return gw.Spec.TLS.Backend.ClientCertificateRef
}

// clientCertSecretKey resolves a Gateway's clientCertificateRef to a Secret
// key ("namespace/name"); ok is false for another kind or a
// cross-namespace reference no ReferenceGrant allows.
func (t *Translator) clientCertSecretKey(ctx *collection.Ctx, gw *gwv1.Gateway) (string, bool) {
	ref := clientCertRef(gw)
	if ref == nil || (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
		return "", false
	}
	ns := gw.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	if !t.referenceAllowed(ctx, gwv1.GroupName, "Gateway", gw.Namespace, "", "Secret", ns, string(ref.Name)) {
		return "", false
	}
	return ns + "/" + string(ref.Name), true
}

// gatewayClientCertRefs lists the Secret a Gateway names as its backend
// client certificate, so the Kubernetes source watches it.
func gatewayClientCertRefs(gw *gwv1.Gateway) []string {
	ref := clientCertRef(gw)
	if ref == nil {
		return nil
	}
	ns := gw.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return []string{ns + "/" + string(ref.Name)}
}

// translateBackendTLSPolicy computes a policy's status.ancestors: one entry
// per Gateway of ours with a route that uses a targeted Service.
func (t *Translator) translateBackendTLSPolicy(ctx *collection.Ctx, p *gwv1.BackendTLSPolicy, routesByBackend collection.Index[*routeResult]) (*backendTLSResult, bool) {
	gateways := map[string]bool{}
	conflicted := ""
	for _, r := range p.Spec.TargetRefs {
		if r.Group != "" || r.Kind != "Service" {
			continue
		}
		svc := p.Namespace + "/" + string(r.Name)
		names := []string{serviceBackendName(svc)}
		if s, ok := collection.Fetch(ctx, t.in.Services.Collection, svc); ok {
			for _, sp := range s.Spec.Ports {
				names = append(names, serviceBackendName(svc)+":"+strconv.Itoa(int(sp.Port)))
			}
		}
		for _, name := range names {
			for _, e := range collection.FetchIndex(ctx, routesByBackend, name) {
				for _, l := range e.Value.Listeners {
					gateways[gatewayOfListener(l)] = true
				}
			}
		}
		if w := t.winningPolicy(ctx, svc, string(deref(r.SectionName))); w != nil && (w.Namespace != p.Namespace || w.Name != p.Name) && conflicted == "" {
			conflicted = fmt.Sprintf("BackendTLSPolicy %s/%s is older and targets the same Service and sectionName", w.Namespace, w.Name)
		}
	}
	if len(gateways) == 0 {
		return nil, false // no Gateway of ours uses a target: no status of ours
	}
	ev := t.evalBackendTLS(ctx, p)
	gen := p.Generation
	accepted := cond(gwv1.PolicyConditionAccepted, ev.acceptedOK, ev.acceptedReason, ev.acceptedMsg, gen)
	if conflicted != "" {
		accepted = cond(gwv1.PolicyConditionAccepted, false, gwv1.PolicyReasonConflicted, conflicted, gen)
	}
	resolved := cond(gwv1.BackendTLSPolicyConditionResolvedRefs, ev.resolvedOK, ev.resolvedReason, ev.resolvedMsg, gen)
	st := &gwv1.PolicyStatus{}
	for _, g := range sortedKeys(gateways) {
		ns, name, _ := strings.Cut(g, "/")
		st.Ancestors = append(st.Ancestors, gwv1.PolicyAncestorStatus{
			AncestorRef:    gwv1.ParentReference{Group: ptr(gwv1.Group(gwv1.GroupName)), Kind: ptr(gwv1.Kind("Gateway")), Namespace: ptr(gwv1.Namespace(ns)), Name: gwv1.ObjectName(name)},
			ControllerName: gwv1.GatewayController(t.controller),
			Conditions:     []metav1.Condition{accepted, resolved},
		})
	}
	return &backendTLSResult{Status: ObjectStatus{Kind: backendTLSKind, Namespace: p.Namespace, Name: p.Name, BackendTLSPolicy: st}}, true
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
