package migrate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func ingress(ns, name string, annotations map[string]string, rules ...networkingv1.IngressRule) *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec: networkingv1.IngressSpec{Rules: rules}}
}

func hostRule(host string, paths ...string) networkingv1.IngressRule {
	prefix := networkingv1.PathTypePrefix
	r := networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
	for _, p := range paths {
		r.HTTP.Paths = append(r.HTTP.Paths, networkingv1.HTTPIngressPath{Path: p, PathType: &prefix,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "svc", Port: networkingv1.ServiceBackendPort{Number: 80}}}})
	}
	return r
}

func mustMigrate(t *testing.T, ings ...*networkingv1.Ingress) (*Result, *Report) {
	t.Helper()
	res, rep, err := Migrate(Input{Ingresses: ings}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return res, rep
}

// TestEveryAnnotationReported checks, over the whole corpus, that each
// annotation of each migrated Ingress has an outcome in the report.
func TestEveryAnnotationReported(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.yaml")
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		input, _, _ := bytes.Cut(data, []byte(goldenMarker))
		in, _ := DecodeInput(path, input)
		_, rep := mustMigrate(t, in.Ingresses...)
		for _, ing := range in.Ingresses {
			obj := "Ingress " + ing.Namespace + "/" + ing.Name
			var or *ObjectReport
			for i := range rep.Objects {
				if rep.Objects[i].Object == obj {
					or = &rep.Objects[i]
				}
			}
			if or == nil {
				t.Errorf("%s: %s missing from the report", path, obj)
				continue
			}
			if or.Skipped != "" {
				continue
			}
			for name := range ing.Annotations {
				found := false
				for _, a := range or.Annotations {
					found = found || a.Name == name
				}
				if !found {
					t.Errorf("%s: %s annotation %s has no outcome in the report", path, obj, name)
				}
			}
		}
	}
}

// TestListenerNames checks that listener names are valid section names and
// unique, for hostnames that clean to the same name, wildcards and
// hostnames too long to prefix.
func TestListenerNames(t *testing.T) {
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".example"
	ing := ingress("ns", "web", nil, hostRule("*.example.com", "/"), hostRule("wildcard.example.com", "/"), hostRule(long, "/"))
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"*.example.com", "wildcard.example.com", long}, SecretName: "tls"}}
	res, _ := mustMigrate(t, ing)
	seen := map[gwv1.SectionName]bool{}
	for _, l := range res.Namespaces[0].ListenerSets[0].Spec.Listeners {
		if seen[l.Name] || len(l.Name) > maxObjectName || !sectionNameRE.MatchString(string(l.Name)) {
			t.Errorf("listener name %q is invalid or repeated", l.Name)
		}
		seen[l.Name] = true
	}
	if len(seen) != 6 {
		t.Errorf("got %d listeners, want 6 (HTTP and HTTPS for 3 hosts)", len(seen))
	}
	for _, r := range res.Namespaces[0].HTTPRoutes {
		if len(r.Name) > maxObjectName {
			t.Errorf("route name %q is too long", r.Name)
		}
	}
}

// TestListenerSetSplit: more listeners than a ListenerSet may hold are
// spread over several, and routes attach to the right one.
func TestListenerSetSplit(t *testing.T) {
	var ings []*networkingv1.Ingress
	for i := range 40 {
		host := fmt.Sprintf("h%02d.example.com", i)
		ing := ingress("ns", fmt.Sprintf("i%02d", i), nil, hostRule(host, "/"))
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: "tls"}}
		ings = append(ings, ing)
	}
	res, _ := mustMigrate(t, ings...)
	sets := res.Namespaces[0].ListenerSets
	if len(sets) != 2 || len(sets[0].Spec.Listeners) != 64 || len(sets[1].Spec.Listeners) != 16 || sets[1].Name != "ingress-2" {
		t.Fatalf("got %d ListenerSets; want ingress (64 listeners) and ingress-2 (16)", len(sets))
	}
	owner := map[string]string{}
	for _, ls := range sets {
		for _, l := range ls.Spec.Listeners {
			owner[string(l.Name)] = ls.Name
		}
	}
	for _, r := range res.Namespaces[0].HTTPRoutes {
		for _, p := range r.Spec.ParentRefs {
			if owner[string(*p.SectionName)] != string(p.Name) {
				t.Errorf("route %s attaches to %s/%s, which is not where that listener is", r.Name, p.Name, *p.SectionName)
			}
		}
	}
}

// TestRouteSplit: an Ingress with more paths than an HTTPRoute may hold
// rules is split over several routes.
func TestRouteSplit(t *testing.T) {
	var paths []string
	for i := range 20 {
		paths = append(paths, fmt.Sprintf("/p%d", i))
	}
	res, _ := mustMigrate(t, ingress("ns", "many", nil, hostRule("a.example.com", paths...)))
	routes := res.Namespaces[0].HTTPRoutes
	if len(routes) != 2 || len(routes[0].Spec.Rules) != 16 || len(routes[1].Spec.Rules) != 4 || routes[1].Name != "many-a.example.com-2" {
		t.Fatalf("got %d routes, want 2 with 16 and 4 rules", len(routes))
	}
}

func TestUnresolvedNamedPort(t *testing.T) {
	ing := ingress("ns", "web", nil, hostRule("a.example.com", "/"))
	ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port = networkingv1.ServiceBackendPort{Name: "web"}
	res, rep := mustMigrate(t, ing)
	if p := res.Namespaces[0].HTTPRoutes[0].Spec.Rules[0].BackendRefs[0].Port; p != nil {
		t.Errorf("port %d invented for an unresolved name", *p)
	}
	w := rep.Objects[0].Warnings
	if len(w) != 1 || !strings.Contains(w[0].Message, `port name "web" could not be resolved`) {
		t.Errorf("warnings %v, want one about the unresolved port name", w)
	}
}

func TestSharedHostAcrossNamespaces(t *testing.T) {
	_, rep := mustMigrate(t, ingress("a", "web", nil, hostRule("same.example.com", "/")),
		ingress("b", "web", nil, hostRule("same.example.com", "/api")))
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "hostname same.example.com is used by Ingresses in namespaces a, b") {
		t.Errorf("warnings %v, want one about the shared hostname", rep.Warnings)
	}
}

func TestIngressClassFilter(t *testing.T) {
	other := ingress("ns", "other", map[string]string{"kubernetes.io/ingress.class": "traefik"}, hostRule("a.example.com", "/"))
	opts := DefaultOptions()
	opts.IngressClass = "nginx"
	res, rep, err := Migrate(Input{Ingresses: []*networkingv1.Ingress{other}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Skipped != 1 || len(res.Namespaces) != 0 || !strings.Contains(rep.Objects[0].Skipped, `"traefik"`) {
		t.Errorf("an Ingress of another class was not skipped: %+v", rep.Objects[0])
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := []func(*Options){
		func(o *Options) { o.GatewayName = "Shared" },
		func(o *Options) { o.GatewayNamespace = "" },
		func(o *Options) { o.ListenerSetName = "a_b" },
		func(o *Options) { o.HTTPPort = 0 },
		func(o *Options) { o.HTTPSPort = o.HTTPPort },
	}
	for i, mutate := range bad {
		o := DefaultOptions()
		mutate(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("case %d: %+v accepted", i, o)
		}
		if _, _, err := Migrate(Input{}, o); err == nil {
			t.Errorf("case %d: Migrate accepted invalid options", i)
		}
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
}

func TestParseCIDRs(t *testing.T) {
	got, err := parseCIDRs(" 10.1.2.3/8, 192.168.0.1 ,2001:db8::1")
	if err != nil || strings.Join(got, ",") != "10.0.0.0/8,192.168.0.1/32,2001:db8::1/128" {
		t.Errorf("got %v %v", got, err)
	}
	for _, bad := range []string{"", "10.0.0.0/33", "example.com", " , "} {
		if _, err := parseCIDRs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWriteText(t *testing.T) {
	_, rep := mustMigrate(t, ingress("ns", "web", map[string]string{nginxPrefix + "server-snippet": "x", "team": "a"}, hostRule("a.example.com", "/")))
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Ingress ns/web: nginx.ingress.kubernetes.io/server-snippet Unsafe:",
		"Ingress ns/web: team Ignored:", "migrated 1 of 1 Ingresses"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

// TestCertManagerWithoutTLS: issuer annotations on an Ingress with no TLS
// entry have nothing to issue; they are reported, not put on a ListenerSet.
func TestCertManagerWithoutTLS(t *testing.T) {
	res, rep := mustMigrate(t, ingress("ns", "web", map[string]string{"cert-manager.io/issuer": "ca"}, hostRule("a.example.com", "/")))
	if a := rep.Objects[0].Annotations; len(a) != 1 || a[0].Outcome != Ignored {
		t.Errorf("annotations %+v, want the issuer Ignored", a)
	}
	if ann := res.Namespaces[0].ListenerSets[0].Annotations; len(ann) != 0 {
		t.Errorf("ListenerSet got annotations %v", ann)
	}
}

// TestWildcardTLSCoversHost: a host covered by a wildcard TLS entry gets an
// HTTPS listener with the wildcard's Secret and the HTTPS redirect.
func TestWildcardTLSCoversHost(t *testing.T) {
	ing := ingress("ns", "web", nil, hostRule("a.example.com", "/"))
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"*.example.com"}, SecretName: "wild"}}
	res, _ := mustMigrate(t, ing)
	found := false
	for _, l := range res.Namespaces[0].ListenerSets[0].Spec.Listeners {
		if l.Name == "https-a.example.com" && l.TLS != nil && l.TLS.CertificateRefs[0].Name == "wild" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no HTTPS listener for a.example.com with the wildcard Secret: %+v", res.Namespaces[0].ListenerSets[0].Spec.Listeners)
	}
	if routes := res.Namespaces[0].HTTPRoutes; len(routes) != 2 || routes[1].Name != "web-a.example.com-redirect" {
		t.Errorf("want a serving and a redirect route, got %d", len(routes))
	}
}

func TestDuplicateIngressInInput(t *testing.T) {
	a := ingress("ns", "web", nil, hostRule("a.example.com", "/"))
	res, rep := mustMigrate(t, a, a.DeepCopy())
	if len(res.Namespaces[0].HTTPRoutes) != 1 || rep.Summary.Skipped != 1 || !strings.Contains(rep.Objects[1].Skipped, "more than once") {
		t.Errorf("duplicate Ingress: %d routes, report %+v", len(res.Namespaces[0].HTTPRoutes), rep.Objects)
	}
}

// TestCanaryHeaderPattern: canary-by-header-pattern becomes a regular
// expression header match (unanchored, as ingress-nginx matched it); a
// pattern that is not RE2 is reported and left out.
func TestCanaryHeaderPattern(t *testing.T) {
	main := ingress("ns", "web", nil, hostRule("a.example.com", "/"))
	canary := func(name, pattern string) *networkingv1.Ingress {
		c := ingress("ns", name, map[string]string{nginxPrefix + "canary": "true", nginxPrefix + "canary-by-header": "X-Tier",
			nginxPrefix + "canary-by-header-pattern": pattern}, hostRule("a.example.com", "/"))
		c.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = "svc-canary"
		return c
	}
	res, _ := mustMigrate(t, main, canary("web-canary", "gold|platinum"))
	rules := res.Namespaces[0].HTTPRoutes[0].Spec.Rules
	if len(rules) != 2 {
		t.Fatalf("got %d rules, want the path and the header rule", len(rules))
	}
	h := rules[1].Matches[0].Headers
	if len(h) != 1 || *h[0].Type != gwv1.HeaderMatchRegularExpression || h[0].Value != ".*(?:gold|platinum).*" || rules[1].BackendRefs[0].Name != "svc-canary" {
		t.Errorf("header rule %+v", rules[1])
	}
	res, rep := mustMigrate(t, main, canary("web-canary", "(?<=x)"))
	if n := len(res.Namespaces[0].HTTPRoutes[0].Spec.Rules); n != 1 {
		t.Errorf("an invalid pattern produced %d rules, want 1", n)
	}
	if w := rep.Objects[1].Warnings; len(w) != 1 || !strings.Contains(w[0].Message, "not RE2 syntax") {
		t.Errorf("warnings %+v", w)
	}
}
