package migrate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Input is what a migration reads: Ingresses, and Services used to resolve
// named backend ports and check appProtocol.
type Input struct {
	Ingresses []*networkingv1.Ingress
	Services  []*corev1.Service
	// Skipped lists the other objects found in the input ("Kind ns/name"),
	// so the report can show they were seen and left alone.
	Skipped []string
}

// Add appends another input's objects.
func (in *Input) Add(o Input) {
	in.Ingresses = append(in.Ingresses, o.Ingresses...)
	in.Services = append(in.Services, o.Services...)
	in.Skipped = append(in.Skipped, o.Skipped...)
}

// Problem is input that could not be read; the object it concerns is left
// out of the Input.
type Problem struct {
	File     string `json:"file"`
	Document int    `json:"document"`
	Message  string `json:"message"`
}

func (p Problem) Error() string {
	return fmt.Sprintf("%s: document %d: %s", p.File, p.Document, p.Message)
}

// maxListDepth bounds nested Lists (a List item that is a List...).
const maxListDepth = 8

// DecodeInput reads one file's content: YAML documents separated by "---"
// (or JSON), each an object or a List of objects (as `kubectl get -o yaml`
// prints). Ingresses of networking.k8s.io/v1 and Services of v1 are decoded
// strictly (an unknown field is a problem naming it); other kinds are
// listed in Skipped. Objects without a namespace get "default", as kubectl
// would give them.
func DecodeInput(file string, data []byte) (Input, []Problem) {
	var in Input
	var problems []Problem
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		chunk, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, Problem{file, doc, fmt.Sprintf("cannot split the YAML stream: %v", err)})
			break
		}
		if len(bytes.TrimSpace(chunk)) == 0 {
			doc--
			continue
		}
		j, err := yaml.YAMLToJSON(chunk)
		if err != nil {
			problems = append(problems, Problem{file, doc, fmt.Sprintf("not valid YAML: %v", err)})
			continue
		}
		if string(bytes.TrimSpace(j)) == "null" {
			doc-- // a document holding only comments
			continue
		}
		d := decoder{file: file, doc: doc, in: &in, problems: &problems}
		d.object(j, "", 0)
	}
	return in, problems
}

type decoder struct {
	file     string
	doc      int
	in       *Input
	problems *[]Problem
}

func (d *decoder) problem(format string, args ...any) {
	*d.problems = append(*d.problems, Problem{d.file, d.doc, fmt.Sprintf(format, args...)})
}

// object decodes one JSON object; where says which List item it is.
func (d *decoder) object(j []byte, where string, depth int) {
	var meta struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(j, &meta); err != nil {
		d.problem("%snot a Kubernetes object: %v", where, err)
		return
	}
	switch {
	case meta.Kind == "":
		d.problem("%skind is missing: every object needs apiVersion and kind", where)
	case meta.Kind == "List" || strings.HasSuffix(meta.Kind, "List") && meta.Items != nil:
		if depth >= maxListDepth {
			d.problem("%sLists nested deeper than %d levels", where, maxListDepth)
			return
		}
		for i, item := range meta.Items {
			d.object(item, fmt.Sprintf("%sitems[%d]: ", where, i), depth+1)
		}
	case meta.Kind == "Ingress" && meta.APIVersion == "networking.k8s.io/v1":
		ing := &networkingv1.Ingress{}
		if d.strict(j, ing, where, "Ingress", meta.Metadata.Name) {
			defaultNamespace(&ing.Namespace)
			d.in.Ingresses = append(d.in.Ingresses, ing)
		}
	case meta.Kind == "Ingress":
		d.problem("%sIngress %q has apiVersion %q: only networking.k8s.io/v1 is read (extensions/v1beta1 and networking.k8s.io/v1beta1 were removed in Kubernetes 1.22; export it from the cluster again or convert it)",
			where, meta.Metadata.Name, meta.APIVersion)
	case meta.Kind == "Service" && meta.APIVersion == "v1":
		svc := &corev1.Service{}
		if d.strict(j, svc, where, "Service", meta.Metadata.Name) {
			defaultNamespace(&svc.Namespace)
			d.in.Services = append(d.in.Services, svc)
		}
	default:
		ns := meta.Metadata.Namespace
		if ns != "" {
			ns += "/"
		}
		d.in.Skipped = append(d.in.Skipped, meta.Kind+" "+ns+meta.Metadata.Name)
	}
}

// strict decodes j into obj, rejecting unknown fields, and checks the name.
func (d *decoder) strict(j []byte, obj any, where, kind, name string) bool {
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		d.problem("%s%s %q: %v", where, kind, name, err)
		return false
	}
	if name == "" {
		d.problem("%s%s: metadata.name is required", where, kind)
		return false
	}
	return true
}

func defaultNamespace(ns *string) {
	if *ns == "" {
		*ns = "default"
	}
}
