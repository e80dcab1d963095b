package provision

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"text/template"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"
)

// There is no helm binary here, so renderChart implements the small part of
// Helm the chart uses: the .Values/.Release/.Chart objects and the include,
// toYaml, nindent, indent and quote functions, with Helm's semantics. It is
// stricter than Helm in one way: a reference to a value that values.yaml does
// not define is an error, not an empty string. Keep the templates to these.

const chartDir = "charts/gatehouse"

type release struct{ Name, Namespace, Service string }

func renderChart(t *testing.T, rel release, overrides map[string]any) []document {
	t.Helper()
	dir := filepath.Join(repoPath, chartDir)
	var chart struct {
		APIVersion, Name, Description, Type, Version, AppVersion string
	}
	readYAML(t, filepath.Join(dir, "Chart.yaml"), &chart)
	values := map[string]any{}
	readYAML(t, filepath.Join(dir, "values.yaml"), &values)
	for k, v := range overrides {
		values[k] = v
	}

	tpl := template.New("chart").Option("missingkey=error")
	tpl.Funcs(template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var b bytes.Buffer
			err := tpl.ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
		"toYaml": func(v any) (string, error) {
			data, err := yaml.Marshal(v)
			return strings.TrimSuffix(string(data), "\n"), err
		},
		"indent":  indent,
		"nindent": func(n int, s string) string { return "\n" + indent(n, s) },
		"quote":   func(s string) string { return `"` + s + `"` },
	})
	paths, err := filepath.Glob(filepath.Join(dir, "templates", "*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no templates in %s (%v)", dir, err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tpl.New(filepath.Base(p)).Parse(string(data)); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	scope := map[string]any{
		"Values":  values,
		"Release": map[string]any{"Name": rel.Name, "Namespace": rel.Namespace, "Service": rel.Service},
		"Chart":   map[string]any{"Name": chart.Name, "Version": chart.Version, "AppVersion": chart.AppVersion},
	}
	var docs []document
	for _, p := range paths {
		name := filepath.Base(p)
		if strings.HasPrefix(name, "_") {
			continue // helpers: definitions only, as in Helm
		}
		var out bytes.Buffer
		if err := tpl.ExecuteTemplate(&out, name, scope); err != nil {
			t.Fatalf("render %s: %v", name, err)
		}
		docs = append(docs, splitDocuments(t, filepath.Join(chartDir, "templates", name), out.Bytes())...)
	}
	return docs
}

func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

func readYAML(t *testing.T, path string, out any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

var defaultRelease = release{Name: "gatehouse", Namespace: systemNamespace, Service: "Helm"}

// TestChartMatchesDeploy renders the chart with its default values into
// gatehouse-system and checks it yields the objects of deploy/ (all but the
// Namespace, which Helm creates), with the same specs and rules.
func TestChartMatchesDeploy(t *testing.T) {
	chart := decodeManifests(t, renderChart(t, defaultRelease, nil))
	plain := decodeManifests(t, readDocuments(t, "deploy"))

	if len(chart.namespaces) != 0 || len(chart.crds) != 0 || len(chart.kustomizations) != 0 {
		t.Errorf("chart templates render a Namespace, CRD or Kustomization; CRDs belong in crds/")
	}
	pairs := []struct {
		what        string
		chart, want any
	}{
		{"ClusterRole rules", rulesOf(chart.clusterRoles), rulesOf(plain.clusterRoles)},
		{"ClusterRoleBindings", bindingsOf(chart.clusterRoleBindings), bindingsOf(plain.clusterRoleBindings)},
		{"Roles", rulesOf(chart.roles), rulesOf(plain.roles)},
		{"RoleBindings", bindingsOf(chart.roleBindings), bindingsOf(plain.roleBindings)},
		{"Deployment specs", specsOf(chart.deployments), specsOf(plain.deployments)},
		{"Service specs", specsOf(chart.services), specsOf(plain.services)},
		{"GatewayClass specs", specsOf(chart.gatewayClasses), specsOf(plain.gatewayClasses)},
	}
	if names(chart.serviceAccounts) != names(plain.serviceAccounts) {
		t.Errorf("ServiceAccounts: chart %s, deploy %s", names(chart.serviceAccounts), names(plain.serviceAccounts))
	}
	for _, p := range pairs {
		if !equality.Semantic.DeepEqual(p.chart, p.want) {
			t.Errorf("%s differ between the chart and deploy/:\nchart:  %+v\ndeploy: %+v", p.what, p.chart, p.want)
		}
	}
	// Every object carries the helper's labels.
	for _, objs := range [][]metaObject{asMeta(chart.serviceAccounts), asMeta(chart.deployments), asMeta(chart.services), asMeta(chart.clusterRoles), asMeta(chart.gatewayClasses)} {
		for _, o := range objs {
			if o.GetLabels()["app.kubernetes.io/instance"] != "gatehouse" || o.GetLabels()["helm.sh/chart"] != "gatehouse-0.1.0" {
				t.Errorf("%s labels = %v", o.GetName(), o.GetLabels())
			}
		}
	}

	// Helm installs crds/ verbatim: it must be deploy/crds.
	want, _ := filepath.Glob(filepath.Join(repoPath, "deploy/crds/*.yaml"))
	got, _ := filepath.Glob(filepath.Join(repoPath, chartDir, "crds/*.yaml"))
	if len(want) == 0 || !slices.Equal(baseNames(got), baseNames(want)) {
		t.Fatalf("chart CRDs %v, want the files of deploy/crds %v", baseNames(got), baseNames(want))
	}
	for _, w := range want {
		a, _ := os.ReadFile(w)
		b, _ := os.ReadFile(filepath.Join(repoPath, chartDir, "crds", filepath.Base(w)))
		if !bytes.Equal(a, b) {
			t.Errorf("%s/crds/%s differs from deploy/crds: copy it over", chartDir, filepath.Base(w))
		}
	}
}

func TestChartValues(t *testing.T) {
	docs := renderChart(t, release{Name: "edge", Namespace: "edge-system", Service: "Helm"}, map[string]any{
		"replicas":           3,
		"image":              map[string]any{"repository": "registry.example/gatehouse", "tag": "v1.2.3", "pullPolicy": "Always"},
		"xdsPort":            16010,
		"createGatewayClass": false,
	})
	m := decodeManifests(t, docs)
	if len(m.gatewayClasses) != 0 {
		t.Errorf("createGatewayClass=false still renders a GatewayClass")
	}
	if len(m.deployments) != 1 || len(m.services) != 1 {
		t.Fatalf("want one Deployment and one Service, got %d and %d", len(m.deployments), len(m.services))
	}
	dep, svc := m.deployments[0], m.services[0]
	c := dep.Spec.Template.Spec.Containers[0]
	if *dep.Spec.Replicas != 3 || c.Image != "registry.example/gatehouse:v1.2.3" || c.ImagePullPolicy != "Always" {
		t.Errorf("replicas %d, image %s, pullPolicy %s", *dep.Spec.Replicas, c.Image, c.ImagePullPolicy)
	}
	wantArgs := []string{"controller", "--xds-address=0.0.0.0:16010", "--admin=0.0.0.0:15000",
		"--proxy-image=registry.example/gatehouse:v1.2.3", "--proxy-controller-address=gatehouse-controller.edge-system.svc:16010"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args = %q", c.Args)
	}
	if svc.Spec.Ports[0].Port != 16010 || containerPort(c, svc.Spec.Ports[0].TargetPort) != 16010 {
		t.Errorf("Service port %+v does not reach container port 16010", svc.Spec.Ports[0])
	}
	for _, o := range append(asMeta(m.serviceAccounts), append(asMeta(m.deployments), asMeta(m.services)...)...) {
		if o.GetNamespace() != "edge-system" {
			t.Errorf("%s is in namespace %q, want the release namespace", o.GetName(), o.GetNamespace())
		}
	}
	if len(m.clusterRoleBindings) != 1 || m.clusterRoleBindings[0].Subjects[0].Namespace != "edge-system" {
		t.Errorf("ClusterRoleBinding does not bind the release namespace's ServiceAccount: %+v", m.clusterRoleBindings)
	}
}

type metaObject interface {
	GetName() string
	GetNamespace() string
	GetLabels() map[string]string
}

func asMeta[T metaObject](objs []T) []metaObject {
	out := make([]metaObject, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	return out
}

func names[T metaObject](objs []T) string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetNamespace()+"/"+o.GetName())
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// specsOf maps "namespace/name" to each object's Spec field.
func specsOf[T metaObject](objs []T) map[string]any {
	out := map[string]any{}
	for _, o := range objs {
		out[o.GetNamespace()+"/"+o.GetName()] = reflect.ValueOf(o).Elem().FieldByName("Spec").Interface()
	}
	return out
}

// rulesOf maps "namespace/name" to the Rules of each Role or ClusterRole.
func rulesOf[T metaObject](roles []T) map[string]any {
	out := map[string]any{}
	for _, r := range roles {
		out[r.GetNamespace()+"/"+r.GetName()] = reflect.ValueOf(r).Elem().FieldByName("Rules").Interface()
	}
	return out
}

// bindingsOf maps "namespace/name" to the roleRef and subjects of each binding.
func bindingsOf[T metaObject](bindings []T) map[string]any {
	out := map[string]any{}
	for _, b := range bindings {
		v := reflect.ValueOf(b).Elem()
		out[b.GetNamespace()+"/"+b.GetName()] = []any{v.FieldByName("RoleRef").Interface(), v.FieldByName("Subjects").Interface()}
	}
	return out
}

func baseNames(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	slices.Sort(out)
	return out
}
