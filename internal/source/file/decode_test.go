package file

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/internal/source"
)

const allKinds = `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gatehouse}
spec: {controllerName: gatehouse.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: gatehouse
  listeners:
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
  - backendRefs: [{name: web, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow, namespace: infra}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: "", kind: Service}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Secret
metadata: {name: cert}
data: {tls.crt: aGVsbG8=}
---
# only a comment: not a document
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ca}
data: {ca.crt: pem}
---
apiVersion: v1
kind: Namespace
metadata: {name: infra, namespace: ignored}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1]}]
ports: [{port: 8080}]
---
apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: echo}
spec: {endpoints: ["127.0.0.1:9090"], protocol: H2C}
`

func TestDecodeAllKinds(t *testing.T) {
	objs, problems := Decode("all.yaml", []byte(allKinds))
	if len(problems) > 0 {
		t.Fatalf("unexpected problems: %v", problems)
	}
	want := []struct {
		kind, apiVersion, namespace, name string
		check                             func(source.Object) bool
	}{
		{"GatewayClass", gatewayV1, "", "gatehouse", func(o source.Object) bool { _, ok := o.(*gatewayv1.GatewayClass); return ok }},
		{"Gateway", gatewayV1, "infra", "gw", func(o source.Object) bool { return o.(*gatewayv1.Gateway).Spec.Listeners[0].Port == 80 }},
		{"HTTPRoute", gatewayV1, "default", "web", func(o source.Object) bool { return o.(*gatewayv1.HTTPRoute).Spec.Rules[0].BackendRefs[0].Name == "web" }},
		{"ReferenceGrant", gatewayV1, "infra", "allow", func(o source.Object) bool { return o.(*gatewayv1.ReferenceGrant).Spec.To[0].Kind == "Service" }},
		{"Service", "v1", "default", "web", func(o source.Object) bool { return o.(*corev1.Service).Spec.Ports[0].Port == 8080 }},
		{"Secret", "v1", "default", "cert", func(o source.Object) bool { return string(o.(*corev1.Secret).Data["tls.crt"]) == "hello" }},
		{"ConfigMap", "v1", "default", "ca", func(o source.Object) bool { return o.(*corev1.ConfigMap).Data["ca.crt"] == "pem" }},
		{"Namespace", "v1", "", "infra", func(o source.Object) bool { _, ok := o.(*corev1.Namespace); return ok }},
		{"EndpointSlice", "discovery.k8s.io/v1", "default", "web-1", func(o source.Object) bool {
			return o.(*discoveryv1.EndpointSlice).Endpoints[0].Addresses[0] == "10.0.0.1"
		}},
		{"StaticBackend", "gatehouse.dev/v1alpha1", "default", "echo", func(o source.Object) bool { return o.(*v1alpha1.StaticBackend).Spec.Protocol == "H2C" }},
	}
	if len(objs) != len(want) {
		t.Fatalf("got %d objects, want %d", len(objs), len(want))
	}
	for i, w := range want {
		o := objs[i]
		gvk := o.GetObjectKind().GroupVersionKind()
		if gvk.Kind != w.kind || gvk.GroupVersion().String() != w.apiVersion {
			t.Errorf("object %d: TypeMeta %v, want %s %s", i, gvk, w.apiVersion, w.kind)
		}
		if o.GetNamespace() != w.namespace || o.GetName() != w.name {
			t.Errorf("%s: got %s/%s, want %s/%s", w.kind, o.GetNamespace(), o.GetName(), w.namespace, w.name)
		}
		if o.GetGeneration() != 1 {
			t.Errorf("%s: generation %d, want 1", w.kind, o.GetGeneration())
		}
		if !w.check(o) {
			t.Errorf("%s: content not decoded as expected: %+v", w.kind, o)
		}
	}
}

func TestDecodeV1beta1IntoV1Types(t *testing.T) {
	objs, problems := Decode("r.yaml", []byte(`
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: old, namespace: apps, generation: 7}
spec: {hostnames: [a.example]}
`))
	if len(problems) > 0 || len(objs) != 1 {
		t.Fatalf("objs=%d problems=%v", len(objs), problems)
	}
	r, ok := objs[0].(*gatewayv1.HTTPRoute)
	if !ok {
		t.Fatalf("got %T, want *v1.HTTPRoute", objs[0])
	}
	if r.APIVersion != gatewayV1 || r.Spec.Hostnames[0] != "a.example" || r.Generation != 7 {
		t.Errorf("got apiVersion %q hostnames %v generation %d", r.APIVersion, r.Spec.Hostnames, r.Generation)
	}
}

func TestDecodeLists(t *testing.T) {
	yamlList := `
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}, dat: {}}
`
	jsonList := `{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "dat": {}}
]}`
	for _, tc := range []struct{ path, data string }{{"l.yaml", yamlList}, {"l.json", jsonList}} {
		objs, problems := Decode(tc.path, []byte(tc.data))
		if len(objs) != 1 || objs[0].GetName() != "a" {
			t.Errorf("%s: got %d objects, want only a", tc.path, len(objs))
		}
		if len(problems) != 1 || problems[0].Field != "items[1].dat" || problems[0].Object != "ConfigMap default/b" {
			t.Errorf("%s: problems %v, want one for items[1].dat of ConfigMap default/b", tc.path, problems)
		}
	}
}

func TestDecodeJSONStream(t *testing.T) {
	data := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}
{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}`
	objs, problems := Decode("s.json", []byte(data))
	if len(problems) > 0 || len(objs) != 2 || objs[1].GetName() != "b" {
		t.Fatalf("objs=%d problems=%v", len(objs), problems)
	}
	_, problems = Decode("bad.json", []byte("{\n  \"apiVersion\": \"v1\",\n  \"kind\": ConfigMap\n}"))
	if len(problems) != 1 || !strings.Contains(problems[0].Message, "line 3") {
		t.Errorf("problems %v, want a JSON syntax error at line 3", problems)
	}
}

// problemFor decodes data and returns its only problem.
func problemFor(t *testing.T, data string) source.Problem {
	t.Helper()
	objs, problems := Decode("p.yaml", []byte(data))
	if len(objs) != 0 || len(problems) != 1 {
		t.Fatalf("got %d objects and problems %v, want exactly one problem", len(objs), problems)
	}
	return problems[0]
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name, data                      string
		object, field, messageSubstring string
	}{
		{"unknown field", `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: gc
  listeners: [{name: http, port: 80, protocl: HTTP}]
`, "Gateway default/gw", "spec.listeners[0].protocl", `unknown field "protocl"`},
		{"field case", `{apiVersion: v1, kind: ConfigMap, metadata: {Name: x, name: cm}}`, "ConfigMap default/cm", "metadata.Name", `did you mean "name"`},
		{"wrong type", `
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {ports: [{port: "80"}]}
`, "Service default/s", "spec.ports[0].port", "expected an integer"},
		{"string expected", `{apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {port: 80}}`, "ConfigMap default/c", "data.port", "quote the value"},
		{"overflow", `{apiVersion: v1, kind: Service, metadata: {name: s}, spec: {ports: [{port: 99999999999}]}}`, "Service default/s", "spec.ports[0].port", "out of range"},
		{"unknown kind", `{apiVersion: v1, kind: Pod, metadata: {name: p}}`, "", "kind", "supported kinds: BackendTLSPolicy, ConfigMap, EndpointSlice"},
		{"missing kind", `{apiVersion: v1, metadata: {name: p}}`, "", "kind", "missing kind"},
		{"ListenerSet duplicate listener", `{apiVersion: gateway.networking.k8s.io/v1, kind: ListenerSet, metadata: {name: ls}, spec: {parentRef: {name: gw}, listeners: [{name: a, port: 80, protocol: HTTP}, {name: a, port: 81, protocol: HTTP}]}}`, "ListenerSet default/ls", "spec.listeners[1].name", "unique within a ListenerSet"},
		{"ListenerSet without parent", `{apiVersion: gateway.networking.k8s.io/v1, kind: ListenerSet, metadata: {name: ls}, spec: {listeners: [{name: a, port: 80, protocol: HTTP}]}}`, "ListenerSet default/ls", "spec.parentRef.name", "name the Gateway"},
		{"missing apiVersion", `{kind: ConfigMap, metadata: {name: p}}`, "ConfigMap default/p", "apiVersion", "add `apiVersion: v1`"},
		{"wrong apiVersion", `{apiVersion: gateway.networking.k8s.io/v1alpha2, kind: Gateway, metadata: {name: g}}`, "Gateway default/g", "apiVersion", "use gateway.networking.k8s.io/v1 or"},
		{"missing name", `{apiVersion: v1, kind: ConfigMap, metadata: {namespace: x}}`, "ConfigMap", "metadata.name", "missing metadata.name"},
		{"bad name", `{apiVersion: v1, kind: ConfigMap, metadata: {name: Bad_Name}}`, "ConfigMap default/Bad_Name", "metadata.name", "invalid name"},
		{"not an object", `- a`, "", "", "not an object"},
		{"bad base64", `{apiVersion: v1, kind: Secret, metadata: {name: s}, data: {k: "%%%"}}`, "Secret default/s", "", "illegal base64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := problemFor(t, tc.data)
			if p.Object != tc.object || p.Field != tc.field || !strings.Contains(p.Message, tc.messageSubstring) {
				t.Errorf("got %s\nwant object %q field %q message containing %q", p, tc.object, tc.field, tc.messageSubstring)
			}
			if p.File != "p.yaml" || p.Document != 1 {
				t.Errorf("got file %q document %d, want p.yaml #1", p.File, p.Document)
			}
		})
	}
}

func TestDecodeSyntaxErrorNamesFileAndLine(t *testing.T) {
	data := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n"
	objs, problems := Decode("dir/bad.yaml", []byte(data))
	if len(objs) != 1 || objs[0].GetName() != "ok" {
		t.Errorf("the valid first document should still decode, got %d objects", len(objs))
	}
	if len(problems) != 1 {
		t.Fatalf("problems %v, want 1", problems)
	}
	p := problems[0]
	// The parser reports the unclosed list: line 8 counted from the top of
	// the file, not from the "---".
	if p.File != "dir/bad.yaml" || p.Document != 2 || !strings.Contains(p.Message, "line 8") {
		t.Errorf("got %s, want dir/bad.yaml#2 at line 8", p)
	}
	if !strings.Contains(p.String(), "dir/bad.yaml#2: ") {
		t.Errorf("String() = %q", p.String())
	}
}

func TestDecodeDuplicateKeyIsSyntaxError(t *testing.T) {
	p := problemFor(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n")
	if !strings.Contains(p.Message, "line 5") || !strings.Contains(p.Message, "already set") {
		t.Errorf("got %s, want duplicate key at line 5", p)
	}
}

func TestDecodeSecretStringData(t *testing.T) {
	objs, problems := Decode("s.yaml", []byte(`
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {a: YQ==, b: Yg==}
stringData: {b: override, c: plain}
`))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	s := objs[0].(*corev1.Secret)
	got := fmt.Sprintf("%s %s %s", s.Data["a"], s.Data["b"], s.Data["c"])
	if got != "a override plain" || s.StringData != nil || s.Type != corev1.SecretTypeOpaque {
		t.Errorf("data %q stringData %v type %q", got, s.StringData, s.Type)
	}
}

func TestDecodeDefaults(t *testing.T) {
	objs, problems := Decode("d.yaml", []byte(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: web, port: 80}]
  - matches: [{headers: [{name: x-env, value: prod}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
`))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	r := objs[0].(*gatewayv1.HTTPRoute)
	if *r.Spec.ParentRefs[0].Kind != "Gateway" || *r.Spec.ParentRefs[0].Group != gatewayv1.GroupName {
		t.Errorf("parentRef defaults: %+v", r.Spec.ParentRefs[0])
	}
	m := r.Spec.Rules[0].Matches
	if len(m) != 1 || *m[0].Path.Type != gatewayv1.PathMatchPathPrefix || *m[0].Path.Value != "/" {
		t.Errorf("default match: %+v", m)
	}
	b := r.Spec.Rules[0].BackendRefs[0]
	if *b.Weight != 1 || *b.Kind != "Service" || *b.Group != "" {
		t.Errorf("backendRef defaults: %+v", b)
	}
	if *r.Spec.Rules[1].Matches[0].Headers[0].Type != gatewayv1.HeaderMatchExact {
		t.Errorf("header match type not defaulted")
	}
	svc := objs[1].(*corev1.Service)
	p := svc.Spec.Ports[0]
	if p.Protocol != corev1.ProtocolTCP || p.TargetPort.IntVal != 80 || svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("service defaults: %+v type %q", p, svc.Spec.Type)
	}
}
