package provision

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/api/v1alpha1"
)

// ourCRDs reads deploy/crds and indexes the CRDs by kind.
func ourCRDs(t *testing.T) map[string]crd {
	t.Helper()
	out := map[string]crd{}
	for _, d := range readDocuments(t, "deploy/crds") {
		if d.kind != "CustomResourceDefinition" || d.apiVersion != "apiextensions.k8s.io/v1" {
			t.Fatalf("%s: want only apiextensions.k8s.io/v1 CustomResourceDefinitions", d)
		}
		var c crd
		decodeStrict(t, d, &c)
		out[c.Spec.Names.Kind] = c
	}
	return out
}

// TestCRDsMatchTypes checks each CRD against its Go type: names, and a
// schema with exactly the Go type's JSON fields, of matching types, with
// "required" exactly the fields without omitempty.
func TestCRDsMatchTypes(t *testing.T) {
	crds := ourCRDs(t)
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	types := map[string]reflect.Type{
		v1alpha1.StaticBackendKind:     reflect.TypeFor[v1alpha1.StaticBackend](),
		v1alpha1.GatewayParametersKind: reflect.TypeFor[v1alpha1.GatewayParameters](),
		v1alpha1.TrafficPolicyKind:     reflect.TypeFor[v1alpha1.TrafficPolicy](),
	}
	if len(crds) != len(types) {
		t.Errorf("deploy/crds has CRDs for %v, want exactly %v", slices.Sorted(maps.Keys(crds)), slices.Sorted(maps.Keys(types)))
	}
	for kind, goType := range types {
		c, ok := crds[kind]
		if !ok {
			t.Errorf("no CRD for %s in deploy/crds", kind)
			continue
		}
		n := c.Spec.Names
		if c.Spec.Group != v1alpha1.GroupName || c.Metadata.Name != n.Plural+"."+v1alpha1.GroupName || c.Spec.Scope != "Namespaced" {
			t.Errorf("%s CRD: group %q, name %q, scope %q", kind, c.Spec.Group, c.Metadata.Name, c.Spec.Scope)
		}
		if n.Plural != strings.ToLower(n.Plural) || n.ListKind != kind+"List" {
			t.Errorf("%s CRD names = %+v", kind, n)
		}
		if !scheme.Recognizes(v1alpha1.GroupVersion.WithKind(n.ListKind)) {
			t.Errorf("%s is not registered by v1alpha1.AddToScheme", n.ListKind)
		}
		if len(c.Spec.Versions) != 1 || c.Spec.Versions[0].Name != v1alpha1.GroupVersion.Version ||
			!c.Spec.Versions[0].Served || !c.Spec.Versions[0].Storage || c.Spec.Versions[0].Schema == nil {
			t.Fatalf("%s CRD versions = %+v, want one served, stored %s with a schema", kind, c.Spec.Versions, v1alpha1.GroupVersion.Version)
		}
		root := c.Spec.Versions[0].Schema.OpenAPIV3Schema
		for _, err := range compareSchema(goType, root, kind) {
			t.Error(err)
		}
	}
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

// compareSchema walks t and s together and returns every mismatch.
func compareSchema(t reflect.Type, s *jsonSchemaProps, path string) []error {
	if s == nil {
		return []error{fmt.Errorf("%s: no schema for Go type %s", path, t)}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) {
		// Quantity, Time, IntOrString: their own JSON form; not walked.
		return nil
	}
	var errs []error
	wantType := map[reflect.Kind]string{
		reflect.String: "string", reflect.Bool: "boolean",
		reflect.Int32: "integer", reflect.Int64: "integer", reflect.Int: "integer",
		reflect.Struct: "object", reflect.Map: "object", reflect.Slice: "array",
	}[t.Kind()]
	if s.Type != wantType {
		errs = append(errs, fmt.Errorf("%s: schema type %q, Go type %s wants %q", path, s.Type, t, wantType))
	}
	switch t.Kind() {
	case reflect.Map:
		return append(errs, compareSchema(t.Elem(), s.AdditionalProperties, path+"[*]")...)
	case reflect.Slice:
		return append(errs, compareSchema(t.Elem(), s.Items, path+"[]")...)
	case reflect.Struct:
		if s.Properties == nil && (s.PreserveUnknown || path == "metadata" || strings.HasSuffix(path, ".metadata")) {
			return errs // free-form by design (ObjectMeta is the apiserver's)
		}
		return append(errs, compareStruct(t, s, path)...)
	}
	return errs
}

func compareStruct(t reflect.Type, s *jsonSchemaProps, path string) []error {
	var errs []error
	fields := map[string]reflect.Type{}
	var required []string
	for _, f := range jsonFields(t) {
		fields[f.name] = f.typ
		if !f.omitempty {
			required = append(required, f.name)
		}
	}
	for name, typ := range fields {
		if _, ok := s.Properties[name]; !ok {
			errs = append(errs, fmt.Errorf("%s.%s: Go field missing from the CRD schema", path, name))
			continue
		}
		errs = append(errs, compareSchema(typ, s.Properties[name], path+"."+name)...)
	}
	for name := range s.Properties {
		if _, ok := fields[name]; !ok {
			errs = append(errs, fmt.Errorf("%s.%s: in the CRD schema but not a field of %s", path, name, t))
		}
	}
	sort.Strings(required)
	gotRequired := slices.Sorted(slices.Values(s.Required))
	if !slices.Equal(required, gotRequired) {
		errs = append(errs, fmt.Errorf("%s: schema requires %v; the Go fields without omitempty are %v", path, gotRequired, required))
	}
	return errs
}

type jsonField struct {
	name      string
	typ       reflect.Type
	omitempty bool
}

// jsonFields lists the JSON fields of struct t as encoding/json sees them,
// flattening inline (embedded, untagged or ",inline") structs.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, typ: f.Type, omitempty: strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")})
	}
	return out
}

// TestCRDValidation runs the CRD schemas the way the apiserver does (it uses
// the same kube-openapi validator) over objects that must pass and objects
// that must be rejected.
func TestCRDValidation(t *testing.T) {
	crds := ourCRDs(t)
	tests := []struct {
		kind, name, spec string
		valid            bool
	}{
		{"StaticBackend", "IPv4, DNS and IPv6 endpoints", `{endpoints: ["127.0.0.1:9090", "echo.default.svc:80", "[::1]:8080", "echo_1:65535"], protocol: H2C, tls: {serverName: echo, caCertificateRef: {name: ca}, insecureSkipVerify: false}}`, true},
		{"StaticBackend", "no protocol", `{endpoints: ["echo:1"]}`, true},
		{"StaticBackend", "WS", `{endpoints: ["echo:1"], protocol: WS}`, true},
		{"StaticBackend", "no endpoints", `{endpoints: []}`, false},
		{"StaticBackend", "endpoints missing", `{protocol: HTTP}`, false},
		{"StaticBackend", "no port", `{endpoints: ["echo"]}`, false},
		{"StaticBackend", "port 0", `{endpoints: ["echo:0"]}`, false},
		{"StaticBackend", "port too large", `{endpoints: ["echo:65536"]}`, false},
		{"StaticBackend", "URL", `{endpoints: ["http://echo:80"]}`, false},
		{"StaticBackend", "bare IPv6", `{endpoints: ["::1:80"]}`, false},
		{"StaticBackend", "unknown protocol", `{endpoints: ["echo:80"], protocol: HTTP2}`, false},
		{"StaticBackend", "caCertificateRef without name", `{endpoints: ["echo:80"], tls: {caCertificateRef: {}}}`, false},
		{"GatewayParameters", "empty", `{}`, true},
		{"GatewayParameters", "everything", `{
			logLevel: debug,
			service: {type: NodePort, annotations: {a: b}, externalTrafficPolicy: Local},
			deployment: {replicas: 0, image: "gatehouse:v2", imagePullPolicy: Always,
				resources: {requests: {cpu: 250m, memory: 64Mi}, limits: {cpu: 2}},
				nodeSelector: {role: edge},
				tolerations: [{key: dedicated, operator: Equal, value: edge, effect: NoSchedule, tolerationSeconds: 30}],
				env: [{name: A, value: b}, {name: B, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]}}`, true},
		{"GatewayParameters", "unknown service type", `{service: {type: Internal}}`, false},
		{"GatewayParameters", "negative replicas", `{deployment: {replicas: -1}}`, false},
		{"GatewayParameters", "unknown log level", `{logLevel: trace}`, false},
		{"GatewayParameters", "bad quantity", `{deployment: {resources: {requests: {cpu: lots}}}}`, false},
		{"GatewayParameters", "env without name", `{deployment: {env: [{value: x}]}}`, false},
		{"GatewayParameters", "bad traffic policy", `{service: {externalTrafficPolicy: Nearest}}`, false},
	}
	validators := map[string]*validate.SchemaValidator{}
	for kind, c := range crds {
		data, err := json.Marshal(c.Spec.Versions[0].Schema.OpenAPIV3Schema)
		if err != nil {
			t.Fatal(err)
		}
		var s spec.Schema
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		validators[kind] = validate.NewSchemaValidator(&s, nil, "", strfmt.Default)
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.name, func(t *testing.T) {
			obj := map[string]any{"apiVersion": "gatehouse.dev/v1alpha1", "kind": tt.kind, "metadata": map[string]any{"name": "x"}}
			var specValue any
			if err := yaml.Unmarshal([]byte(tt.spec), &specValue); err != nil {
				t.Fatal(err)
			}
			obj["spec"] = specValue
			res := validators[tt.kind].Validate(obj)
			if res.IsValid() != tt.valid {
				t.Errorf("valid = %v, want %v; errors: %v", res.IsValid(), tt.valid, res.Errors)
			}
		})
	}
}

// TestCRDsAcceptExamples validates every StaticBackend and GatewayParameters
// in examples/ against the CRD schema: the examples must also work on a
// cluster, not only in standalone mode.
func TestCRDsAcceptExamples(t *testing.T) {
	crds := ourCRDs(t)
	seen := 0
	for _, d := range readDocuments(t, "examples") {
		c, ok := crds[d.kind]
		if !ok || d.apiVersion != v1alpha1.GroupVersion.String() {
			continue
		}
		seen++
		data, _ := json.Marshal(c.Spec.Versions[0].Schema.OpenAPIV3Schema)
		var s spec.Schema
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(d.data, &obj); err != nil {
			t.Fatal(err)
		}
		if res := validate.NewSchemaValidator(&s, nil, "", strfmt.Default).Validate(obj); !res.IsValid() {
			t.Errorf("%s is rejected by its CRD: %v", d, res.Errors)
		}
	}
	if seen == 0 {
		t.Errorf("no gatehouse.dev objects found in examples/: the test checks nothing")
	}
}
