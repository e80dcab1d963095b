package file

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/source"
)

// The defaults below are the ones the Gateway API CRD schemas and the core
// apiserver apply on create, limited to fields the engine reads. Applying
// them here makes an object from a file identical to the same object read
// from a cluster.

// defaultGateway sets listener allowedRoutes (namespaces from Same) and the
// TLS mode (Terminate).
func defaultGateway(obj source.Object) {
	gw := obj.(*gatewayv1.Gateway)
	for i := range gw.Spec.Listeners {
		l := &gw.Spec.Listeners[i]
		defaultListener(&l.AllowedRoutes, l.TLS)
	}
}

// defaultListener applies the listener defaults shared by Gateways and
// ListenerSets: allowedRoutes from Same, TLS mode Terminate, certificate
// refs to core Secrets.
func defaultListener(ar **gatewayv1.AllowedRoutes, tls *gatewayv1.ListenerTLSConfig) {
	if *ar == nil {
		*ar = &gatewayv1.AllowedRoutes{}
	}
	if (*ar).Namespaces == nil {
		(*ar).Namespaces = &gatewayv1.RouteNamespaces{}
	}
	if (*ar).Namespaces.From == nil {
		(*ar).Namespaces.From = ptr(gatewayv1.NamespacesFromSame)
	}
	if tls == nil {
		return
	}
	if tls.Mode == nil {
		tls.Mode = ptr(gatewayv1.TLSModeTerminate)
	}
	for j := range tls.CertificateRefs {
		ref := &tls.CertificateRefs[j]
		setDefault(&ref.Group, "")
		setDefault(&ref.Kind, "Secret")
	}
}

// defaultHTTPRoute sets parentRef and backendRef group/kind/weight, and the
// default rule, match and path match (PathPrefix "/").
func defaultHTTPRoute(obj source.Object) {
	r := obj.(*gatewayv1.HTTPRoute)
	for i := range r.Spec.ParentRefs {
		ref := &r.Spec.ParentRefs[i]
		setDefault(&ref.Group, gatewayv1.GroupName)
		setDefault(&ref.Kind, "Gateway")
	}
	if len(r.Spec.Rules) == 0 {
		r.Spec.Rules = []gatewayv1.HTTPRouteRule{{}}
	}
	for i := range r.Spec.Rules {
		rule := &r.Spec.Rules[i]
		if len(rule.Matches) == 0 {
			rule.Matches = []gatewayv1.HTTPRouteMatch{{}}
		}
		for j := range rule.Matches {
			defaultRouteMatch(&rule.Matches[j])
		}
		for j := range rule.BackendRefs {
			ref := &rule.BackendRefs[j].BackendRef
			setDefault(&ref.Group, "")
			setDefault(&ref.Kind, "Service")
			if ref.Weight == nil {
				ref.Weight = ptr(int32(1))
			}
		}
	}
}

func defaultRouteMatch(m *gatewayv1.HTTPRouteMatch) {
	if m.Path == nil {
		m.Path = &gatewayv1.HTTPPathMatch{}
	}
	setDefault(&m.Path.Type, gatewayv1.PathMatchPathPrefix)
	setDefault(&m.Path.Value, "/")
	for k := range m.Headers {
		setDefault(&m.Headers[k].Type, gatewayv1.HeaderMatchExact)
	}
	for k := range m.QueryParams {
		setDefault(&m.QueryParams[k].Type, gatewayv1.QueryParamMatchExact)
	}
}

// defaultService sets type ClusterIP, port protocol TCP and targetPort to
// the port, as the apiserver does.
func defaultService(obj source.Object) {
	svc := obj.(*corev1.Service)
	if svc.Spec.Type == "" {
		svc.Spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == (intstr.IntOrString{}) {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
}

// defaultSecret merges stringData into data (stringData wins, as in the
// apiserver) and sets type Opaque.
func defaultSecret(obj source.Object) {
	s := obj.(*corev1.Secret)
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
}

func ptr[T any](v T) *T { return &v }

// setDefault sets *p to v when it is nil.
func setDefault[T any](p **T, v T) {
	if *p == nil {
		*p = &v
	}
}
