package file

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidation(t *testing.T) {
	gateway := func(spec string) string {
		return "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: " + spec
	}
	route := func(spec string) string {
		return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: " + spec
	}
	manyRules := "{rules: [" + strings.Repeat("{},", 16) + "{}]}"
	tests := []struct {
		name, data, field, message string
	}{
		{"no class", gateway(`{listeners: [{name: a, port: 80, protocol: HTTP}]}`), "spec.gatewayClassName", "required"},
		{"duplicate listener", gateway(`{gatewayClassName: gc, listeners: [{name: a, port: 80, protocol: HTTP}, {name: a, port: 81, protocol: HTTP}]}`),
			"spec.listeners[1].name", "already used by spec.listeners[0]"},
		{"port zero", gateway(`{gatewayClassName: gc, listeners: [{name: a, port: 0, protocol: HTTP}]}`), "spec.listeners[0].port", "out of range"},
		{"no protocol", gateway(`{gatewayClassName: gc, listeners: [{name: a, port: 80}]}`), "spec.listeners[0].protocol", "required"},
		{"path without slash", route(`{rules: [{matches: [{path: {type: PathPrefix, value: api}}]}]}`), "spec.rules[0].matches[0].path.value", `must start with "/"`},
		{"bad header name", route(`{rules: [{matches: [{headers: [{name: "x env", value: a}]}]}]}`), "spec.rules[0].matches[0].headers[0].name", "not a valid HTTP header name"},
		{"too many rules", route(manyRules), "spec.rules", "at most 16 rules"},
		{"backend port", route(`{rules: [{backendRefs: [{name: s, port: 70000}]}]}`), "spec.rules[0].backendRefs[0].port", "out of range"},
		{"service port", "{apiVersion: v1, kind: Service, metadata: {name: s}, spec: {ports: [{port: 70000}]}}", "spec.ports[0].port", "out of range"},
		{"class controller", "{apiVersion: gateway.networking.k8s.io/v1, kind: GatewayClass, metadata: {name: c}, spec: {}}", "spec.controllerName", "required"},
		{"grant empty", "{apiVersion: gateway.networking.k8s.io/v1, kind: ReferenceGrant, metadata: {name: g}, spec: {to: [{group: '', kind: Service}]}}", "spec.from", "required"},
		{"slice addressType", "{apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, metadata: {name: e}, endpoints: []}", "addressType", "required"},
		{"static endpoint", "{apiVersion: gatehouse.dev/v1alpha1, kind: StaticBackend, metadata: {name: s}, spec: {endpoints: [localhost]}}", "spec.endpoints[0]", `not "host:port"`},
		{"static protocol", "{apiVersion: gatehouse.dev/v1alpha1, kind: StaticBackend, metadata: {name: s}, spec: {endpoints: ['a:1'], protocol: GRPC}}", "spec.protocol", "unknown protocol"},
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

func TestValidationAccepts(t *testing.T) {
	valid := []string{
		// Zero listeners: ListenerSets may supply them.
		"{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: gw}, spec: {gatewayClassName: gc}}",
		"{apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, metadata: {name: r}, spec: {rules: [{matches: [{path: {type: RegularExpression, value: '.*'}}]}]}}",
		"{apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, metadata: {name: r}, spec: {rules: [" + strings.Repeat("{},", 15) + "{}]}}",
		"{apiVersion: gatehouse.dev/v1alpha1, kind: StaticBackend, metadata: {name: s}, spec: {endpoints: ['[::1]:8080', 'echo.internal:443']}}",
	}
	for i, data := range valid {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			objs, problems := Decode("ok.yaml", []byte(data))
			if len(objs) != 1 || len(problems) != 0 {
				t.Errorf("got %d objects, problems %v; want it accepted", len(objs), problems)
			}
		})
	}
}
