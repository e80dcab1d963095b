package file

import (
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestL4RouteValidation(t *testing.T) {
	tls := func(spec string) string {
		return "apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {name: r}\nspec: " + spec
	}
	tcp := func(spec string) string {
		return "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata: {name: r}\nspec: " + spec
	}
	for _, tc := range []struct{ name, data, field, message string }{
		{"tls without hostnames", tls(`{rules: [{backendRefs: [{name: s, port: 443}]}]}`), "spec.hostnames", "required"},
		{"tls two rules", tls(`{hostnames: [a.example.com], rules: [{backendRefs: [{name: s, port: 1}]}, {backendRefs: [{name: s, port: 1}]}]}`), "spec.rules", "exactly 1 rule"},
		{"tcp no rules", tcp(`{}`), "spec.rules", "exactly 1 rule"},
		{"tcp no backends", tcp(`{rules: [{}]}`), "spec.rules[0].backendRefs", "between 1 and 16"},
		{"tcp backend port", tcp(`{rules: [{backendRefs: [{name: s, port: 0}]}]}`), "spec.rules[0].backendRefs[0].port", "out of range"},
		{"tcp backend name", tcp(`{rules: [{backendRefs: [{port: 80}]}]}`), "spec.rules[0].backendRefs[0].name", "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := problemFor(t, tc.data)
			if p.Field != tc.field || !strings.Contains(p.Message, tc.message) {
				t.Errorf("got %s\nwant field %q message containing %q", p, tc.field, tc.message)
			}
		})
	}
}

func TestL4RouteDecodeAppliesDefaults(t *testing.T) {
	objs, problems := Decode("l4.yaml", []byte(`apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: s, port: 3000}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: t, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [a.example.com]
  rules: [{backendRefs: [{name: s, port: 443, weight: 5}]}]
`))
	if len(problems) != 0 || len(objs) != 2 {
		t.Fatalf("got %d objects, problems %v", len(objs), problems)
	}
	r := objs[0].(*gatewayv1.TCPRoute)
	ref, b := r.Spec.ParentRefs[0], r.Spec.Rules[0].BackendRefs[0]
	if r.Namespace != "default" || *ref.Kind != "Gateway" || *ref.Group != gatewayv1.GroupName ||
		*b.Kind != "Service" || *b.Group != "" || *b.Weight != 1 {
		t.Errorf("TCPRoute defaults not applied: %+v", r.Spec)
	}
	if tr := objs[1].(*gatewayv1.TLSRoute); *tr.Spec.Rules[0].BackendRefs[0].Weight != 5 || tr.GetObjectKind().GroupVersionKind().Kind != "TLSRoute" {
		t.Errorf("TLSRoute: weight or kind changed: %+v", tr)
	}
}
