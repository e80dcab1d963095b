package migrate

import (
	"fmt"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
)

// h2cAppProtocol is the Service appProtocol that makes Gatehouse speak
// HTTP/2 without TLS to a backend (what gRPC needs).
const h2cAppProtocol = "kubernetes.io/h2c"

// backendUses records the Service ports an Ingress sends traffic to, for
// backend-protocol.
type backendUses struct {
	list []serviceUse
}

type serviceUse struct {
	service string
	port    int32
	// appProtocol of the port, when the Service was in the input.
	appProtocol string
	known       bool
}

// backendRef translates an Ingress backend. Named ports are resolved from
// the Services in the input; otherwise the port is left out and reported.
func (m *migration) backendRef(p *ingressPlan, b networkingv1.IngressBackend, field string, uses *backendUses) (gwv1.HTTPBackendRef, bool) {
	if b.Resource != nil {
		p.rep.warn(field, "resource backend %s %s is not migrated: Gateway API routes send traffic to Services", b.Resource.Kind, b.Resource.Name)
		return gwv1.HTTPBackendRef{}, false
	}
	if b.Service == nil || b.Service.Name == "" {
		p.rep.warn(field, "no service backend: path not migrated")
		return gwv1.HTTPBackendRef{}, false
	}
	ref := gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(b.Service.Name)}}}
	svc := m.services[p.ing.Namespace+"/"+b.Service.Name]
	use := serviceUse{service: b.Service.Name, known: svc != nil}
	switch {
	case b.Service.Port.Number > 0:
		use.port = b.Service.Port.Number
	case b.Service.Port.Name != "" && svc != nil:
		for _, sp := range svc.Spec.Ports {
			if sp.Name == b.Service.Port.Name {
				use.port = sp.Port
			}
		}
		if use.port == 0 {
			p.rep.warn(field+".service.port.name", "Service %s/%s has no port named %q: set spec.rules[].backendRefs[].port of the HTTPRoute by hand", p.ing.Namespace, b.Service.Name, b.Service.Port.Name)
		}
	case b.Service.Port.Name != "":
		p.rep.warn(field+".service.port.name", "port name %q could not be resolved because Service %s/%s was not in the input: set the backendRef's port by hand, or rerun with the Services (-f their manifests, or read from the cluster)", b.Service.Port.Name, p.ing.Namespace, b.Service.Name)
	}
	if use.port != 0 {
		port := gwv1.PortNumber(use.port)
		ref.Port = &port
		if svc != nil {
			for _, sp := range svc.Spec.Ports {
				if sp.Port == use.port && sp.AppProtocol != nil {
					use.appProtocol = *sp.AppProtocol
				}
			}
		}
	}
	uses.list = append(uses.list, use)
	return ref, true
}

// backendProtocol translates backend-protocol for the Services the
// Ingress uses: HTTPS and GRPCS get a BackendTLSPolicy, GRPC needs the h2c
// appProtocol on the Service port.
func (m *migration) backendProtocol(p *ingressPlan, uses *backendUses) {
	proto := p.cfg.backendProto
	name := nginxPrefix + "backend-protocol"
	switch proto {
	case "":
		return
	case "HTTP":
		p.rep.annotation(name, Translated, "plain HTTP is the default")
	case "HTTPS", "GRPCS":
		var policies []string
		for _, u := range uses.list {
			policies = append(policies, m.backendTLSPolicy(p, u.service))
		}
		detail := fmt.Sprintf("BackendTLSPolicy %s verifying the upstream certificate against the system roots for <service>.<namespace>.svc: ingress-nginx did not verify it by default, so point spec.validation.caCertificateRefs at the CA that signed it (a ConfigMap with ca.crt)", strings.Join(uniqueSorted(policies), ", "))
		if proto == "GRPCS" {
			detail += "; gRPC needs HTTP/2 to the backend, negotiated by ALPN: check the backend offers h2"
		}
		p.rep.annotation(name, Partial, "%s", detail)
	case "GRPC":
		var missing []string
		for _, u := range uses.list {
			if !u.known || u.appProtocol != h2cAppProtocol {
				missing = append(missing, fmt.Sprintf("%s port %d", u.service, u.port))
			}
		}
		if len(missing) == 0 {
			p.rep.annotation(name, Translated, "the Service ports already have appProtocol %s, so Gatehouse speaks HTTP/2 (h2c) to them", h2cAppProtocol)
			return
		}
		p.rep.annotation(name, Partial, "set appProtocol: %s on Service %s so Gatehouse speaks HTTP/2 (h2c) to the backend; Gateway API selects the backend protocol on the Service, not on the route", h2cAppProtocol, strings.Join(uniqueSorted(missing), ", "))
	default:
		p.rep.annotation(name, NotTranslated, "backend protocol %s has no Gateway API equivalent (HTTP, HTTPS, GRPC and GRPCS are translated)", proto)
	}
}

// backendTLSPolicy returns (creating once per Service) the BackendTLSPolicy
// for a Service.
func (m *migration) backendTLSPolicy(p *ingressPlan, service string) string {
	ns := p.ing.Namespace
	name := service + "-backend-tls"
	if m.backendTLS[ns+"/"+service] {
		return name
	}
	m.backendTLS[ns+"/"+service] = true
	system := gwv1.WellKnownCACertificatesSystem
	pol := &gwv1.BackendTLSPolicy{TypeMeta: typeMeta("BackendTLSPolicy"),
		ObjectMeta: metav1.ObjectMeta{Name: cleanName(name), Namespace: ns,
			Annotations: map[string]string{MigratedFromAnnotation: "Ingress " + ns + "/" + p.ing.Name}},
		Spec: gwv1.BackendTLSPolicySpec{
			TargetRefs: []gwv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{
				Group: "", Kind: "Service", Name: gwv1.ObjectName(service)}}},
			Validation: gwv1.BackendTLSPolicyValidation{WellKnownCACertificates: &system,
				Hostname: gwv1.PreciseHostname(service + "." + ns + ".svc")}}}
	out := m.nsResult(ns)
	out.BackendTLSPolicies = append(out.BackendTLSPolicies, pol)
	p.rep.Outputs = append(p.rep.Outputs, "BackendTLSPolicy "+ns+"/"+pol.Name)
	return pol.Name
}

// sourceRangePolicy writes a TrafficPolicy for whitelist-source-range /
// denylist-source-range, targeting the Ingress's serving routes (the HTTPS
// redirect stays open, as in ingress-nginx, where the redirect comes first).
func (m *migration) sourceRangePolicy(p *ingressPlan, routes []string) {
	cfg := p.cfg
	if len(cfg.allowCIDRs) == 0 && len(cfg.denyCIDRs) == 0 {
		return
	}
	ns := p.ing.Namespace
	auth := &v1alpha1.Authorization{}
	if len(cfg.allowCIDRs) > 0 {
		auth.Require = []string{cidrExpr(cfg.allowCIDRs)}
	}
	if len(cfg.denyCIDRs) > 0 {
		auth.Deny = []string{cidrExpr(cfg.denyCIDRs)}
	}
	pol := &v1alpha1.TrafficPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.TrafficPolicyKind},
		ObjectMeta: metav1.ObjectMeta{Name: m.routeNames[ns].take(p.ing.Name + "-source-range"), Namespace: ns,
			Annotations: map[string]string{MigratedFromAnnotation: "Ingress " + ns + "/" + p.ing.Name}},
		Spec: v1alpha1.TrafficPolicySpec{Authorization: auth}}
	for _, r := range routes {
		pol.Spec.TargetRefs = append(pol.Spec.TargetRefs, gwv1.LocalPolicyTargetReferenceWithSectionName{
			LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Group: gwv1.GroupName, Kind: "HTTPRoute", Name: gwv1.ObjectName(r)}})
	}
	out := m.nsResult(ns)
	out.TrafficPolicies = append(out.TrafficPolicies, pol)
	p.rep.Outputs = append(p.rep.Outputs, "TrafficPolicy "+ns+"/"+pol.Name)
}

// cidrExpr is a CEL expression true when the client address is in one of
// the ranges.
func cidrExpr(cidrs []string) string {
	parts := make([]string, len(cidrs))
	for i, c := range cidrs {
		parts[i] = fmt.Sprintf("cidr(%q).containsIP(source.address)", c)
	}
	return strings.Join(parts, " || ")
}

func uniqueSorted(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// summarise fills the report's summary and copies the object reports.
func (m *migration) summarise(res *Result) {
	r := m.report
	for _, o := range m.reps {
		r.Objects = append(r.Objects, *o)
		r.Summary.Ingresses++
		if o.Skipped != "" {
			r.Summary.Skipped++
		} else {
			r.Summary.Migrated++
		}
		for _, a := range o.Annotations {
			if a.Outcome == Partial || a.Outcome == NotTranslated || a.Outcome == Unsafe {
				r.Summary.NotTranslated++
			}
		}
		r.Summary.Warnings += len(o.Warnings)
	}
	r.Summary.Warnings += len(r.Warnings)
	for _, ns := range res.Namespaces {
		r.Summary.ListenerSets += len(ns.ListenerSets)
		r.Summary.HTTPRoutes += len(ns.HTTPRoutes)
		r.Summary.TrafficPolicies += len(ns.TrafficPolicies)
		r.Summary.BackendTLSPolicies += len(ns.BackendTLSPolicies)
	}
}
