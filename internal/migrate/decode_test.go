package migrate

import (
	"strings"
	"testing"
)

func TestDecodeInput(t *testing.T) {
	tests := []struct {
		name                string
		data                string
		ingresses, services int
		skipped             []string
		problem             string // substring of the only problem
	}{
		{name: "ingress and service, default namespace", data: `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: a}
spec: {defaultBackend: {service: {name: s, port: {number: 80}}}}
---
# comment-only document
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: x}
`, ingresses: 1, services: 1},
		{name: "list with other kinds", data: `{"apiVersion":"v1","kind":"List","items":[
{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"a","namespace":"n"}},
{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"n"}}]}`, ingresses: 1, skipped: []string{"Deployment n/d"}},
		{name: "old apiVersion", data: "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: old}\n", problem: `Ingress "old" has apiVersion "extensions/v1beta1"`},
		{name: "unknown field", data: "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a}\nspec: {rulez: []}\n", problem: `unknown field "rulez"`},
		{name: "no name", data: "apiVersion: v1\nkind: Service\nmetadata: {}\n", problem: "metadata.name is required"},
		{name: "no kind", data: "apiVersion: v1\nmetadata: {name: a}\n", problem: "kind is missing"},
		{name: "bad yaml", data: "a: [\n", problem: "not valid YAML"},
		{name: "wrong type", data: "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a}\nspec: {rules: 3}\n", problem: "cannot unmarshal number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, problems := DecodeInput("in.yaml", []byte(tt.data))
			if tt.problem != "" {
				if len(problems) != 1 || !strings.Contains(problems[0].Error(), tt.problem) || !strings.HasPrefix(problems[0].Error(), "in.yaml: document ") {
					t.Fatalf("problems %v, want one containing %q", problems, tt.problem)
				}
				return
			}
			if len(problems) > 0 {
				t.Fatalf("unexpected problems %v", problems)
			}
			if len(in.Ingresses) != tt.ingresses || len(in.Services) != tt.services || strings.Join(in.Skipped, ",") != strings.Join(tt.skipped, ",") {
				t.Fatalf("got %d Ingresses, %d Services, skipped %v", len(in.Ingresses), len(in.Services), in.Skipped)
			}
			for _, ing := range in.Ingresses {
				if ing.Namespace == "" {
					t.Errorf("Ingress %s has no namespace", ing.Name)
				}
			}
		})
	}
}

// FuzzDecodeInput checks that no input makes DecodeInput or Migrate panic,
// that problems name their file and document, and that every migrated
// object renders.
func FuzzDecodeInput(f *testing.F) {
	f.Add([]byte("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a, annotations: {nginx.ingress.kubernetes.io/rewrite-target: /$2}}\nspec: {rules: [{host: a.example.com, http: {paths: [{path: \"/x(/|$)(.*)\", pathType: ImplementationSpecific, backend: {service: {name: s, port: {name: web}}}}]}}]}\n"))
	f.Add([]byte(`{"kind":"List","apiVersion":"v1","items":[{"kind":"List","items":[]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, problems := DecodeInput("fuzz.yaml", data)
		for _, p := range problems {
			if p.File != "fuzz.yaml" || p.Document < 1 || p.Message == "" {
				t.Errorf("incomplete problem %+v", p)
			}
		}
		for _, ing := range in.Ingresses {
			if ing.Name == "" || ing.Namespace == "" {
				t.Errorf("accepted an Ingress without name or namespace: %q/%q", ing.Namespace, ing.Name)
			}
		}
		res, rep, err := Migrate(in, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Summary.Ingresses != len(in.Ingresses) {
			t.Errorf("report covers %d of %d Ingresses", rep.Summary.Ingresses, len(in.Ingresses))
		}
		if _, err := RenderYAML(res.Objects()); err != nil {
			t.Errorf("render: %v", err)
		}
	})
}
