package file

import (
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestGRPCRouteAndBackendTLSPolicyValidation(t *testing.T) {
	grpc := func(spec string) string {
		return "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: r}\nspec: " + spec
	}
	btls := func(spec string) string {
		return "apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: p}\nspec: " + spec
	}
	target := `targetRefs: [{group: "", kind: Service, name: s}]`
	tests := []struct {
		name, data, field, message string
	}{
		{"empty method match", grpc(`{rules: [{matches: [{method: {}}]}]}`), "spec.rules[0].matches[0].method", "one or both of service and method"},
		{"exact service with slash", grpc(`{rules: [{matches: [{method: {service: "a/b"}}]}]}`), "spec.rules[0].matches[0].method.service", "not a valid gRPC service name"},
		{"exact method with dot", grpc(`{rules: [{matches: [{method: {service: a, method: "x.y"}}]}]}`), "spec.rules[0].matches[0].method.method", "not a valid gRPC method name"},
		{"bad header name", grpc(`{rules: [{matches: [{headers: [{name: "a b", value: x}]}]}]}`), "spec.rules[0].matches[0].headers[0].name", "not a valid header name"},
		{"backend port", grpc(`{rules: [{backendRefs: [{name: s, port: 0}]}]}`), "spec.rules[0].backendRefs[0].port", "out of range"},
		{"no targets", btls(`{validation: {hostname: a.b, wellKnownCACertificates: System}}`), "spec.targetRefs", "required"},
		{"no hostname", btls(`{` + target + `, validation: {wellKnownCACertificates: System}}`), "spec.validation.hostname", "required"},
		{"wildcard hostname", btls(`{` + target + `, validation: {hostname: "*.a.b", wellKnownCACertificates: System}}`), "spec.validation.hostname", "not a precise hostname"},
		{"no CA", btls(`{` + target + `, validation: {hostname: a.b}}`), "spec.validation", "set caCertificateRefs"},
		{"both CAs", btls(`{` + target + `, validation: {hostname: a.b, wellKnownCACertificates: System, caCertificateRefs: [{group: "", kind: ConfigMap, name: c}]}}`), "spec.validation", "only one of"},
		{"SAN type mismatch", btls(`{` + target + `, validation: {hostname: a.b, wellKnownCACertificates: System, subjectAltNames: [{type: URI, hostname: a.b}]}}`), "spec.validation.subjectAltNames[0]", "type URI needs uri"},
		{"duplicate target", btls(`{targetRefs: [{group: "", kind: Service, name: s}, {group: "", kind: Service, name: s}], validation: {hostname: a.b, wellKnownCACertificates: System}}`), "spec.targetRefs[1]", "same target as spec.targetRefs[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := problemFor(t, tc.data)
			if p.Field != tc.field || !strings.Contains(p.Message, tc.message) {
				t.Errorf("got %s\nwant field %q message containing %q", p, tc.field, tc.message)
			}
		})
	}
}

func TestGRPCRouteDefaults(t *testing.T) {
	objs, problems := Decode("g.yaml", []byte(`apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{method: {service: a.B}, headers: [{name: x, value: "1"}]}]
    backendRefs: [{name: s, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: p, namespace: default}
spec:
  targetRefs: [{group: "", kind: Service, name: s, sectionName: https}]
  validation: {hostname: s.internal, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}],
    subjectAltNames: [{type: Hostname, hostname: s.internal}, {type: URI, uri: "spiffe://td/ns/a/sa/b"}]}
`))
	if len(problems) != 0 || len(objs) != 2 {
		t.Fatalf("got %d objects, problems %v", len(objs), problems)
	}
	r := objs[0].(*gatewayv1.GRPCRoute)
	m := r.Spec.Rules[0].Matches[0]
	ref := r.Spec.Rules[0].BackendRefs[0]
	switch {
	case *r.Spec.ParentRefs[0].Kind != "Gateway" || *r.Spec.ParentRefs[0].Group != gatewayv1.GroupName:
		t.Error("parentRef group/kind not defaulted")
	case *m.Method.Type != gatewayv1.GRPCMethodMatchExact:
		t.Error("method match type not defaulted to Exact")
	case *m.Headers[0].Type != gatewayv1.GRPCHeaderMatchExact:
		t.Error("header match type not defaulted to Exact")
	case *ref.Kind != "Service" || *ref.Group != "" || *ref.Weight != 1:
		t.Error("backendRef group/kind/weight not defaulted")
	}
}
