package migrate

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
)

// Result is the migrated configuration: the platform team's Gateway and
// each app namespace's objects.
type Result struct {
	Gateway    *gwv1.Gateway
	Namespaces []*NamespaceResult
}

// NamespaceResult holds one app namespace's objects.
type NamespaceResult struct {
	Namespace          string
	ListenerSets       []*gwv1.ListenerSet
	HTTPRoutes         []*gwv1.HTTPRoute
	TrafficPolicies    []*v1alpha1.TrafficPolicy
	BackendTLSPolicies []*gwv1.BackendTLSPolicy
}

// ingressPlan is one Ingress being migrated.
type ingressPlan struct {
	ing *networkingv1.Ingress
	cfg *ingressConfig
	rep *ObjectReport
}

// hostListeners are the listeners a hostname got: the ListenerSet and the
// section names routes attach to.
type hostListeners struct {
	listenerSet string
	http, https gwv1.SectionName
	secret      string
	// certManager are the cert-manager annotations of the Ingress that
	// declared the host's TLS Secret: they go on the host's ListenerSet.
	certManager map[string]string
}

// migration carries the state of one Migrate call.
type migration struct {
	o        Options
	report   *Report
	services map[string]*corev1.Service // ns/name
	// hosts per namespace: hostname -> listeners
	hosts map[string]map[string]*hostListeners
	// canaries by namespace|host|path type|path
	canaries map[string][]*ingressPlan
	// catchAll lists the namespaces with rules for every host; they attach
	// to the Gateway's own listener.
	catchAll   map[string]bool
	out        map[string]*NamespaceResult
	routeNames map[string]uniqueNames // per namespace
	backendTLS map[string]bool        // ns/service
	// reps are the object reports, copied into the Report at the end (the
	// plans hold pointers to them).
	reps []*ObjectReport
}

// defaultListener is the name of the Gateway's own catch-all HTTP listener.
const defaultListener gwv1.SectionName = "http"

// Migrate converts Ingresses to Gateway API objects. It never fails on
// content: what cannot be translated is in the report. The error is for
// invalid options only.
func Migrate(in Input, o Options) (*Result, *Report, error) {
	if err := o.Validate(); err != nil {
		return nil, nil, err
	}
	m := &migration{o: o, report: &Report{SkippedInput: in.Skipped}, services: map[string]*corev1.Service{},
		hosts: map[string]map[string]*hostListeners{}, canaries: map[string][]*ingressPlan{}, catchAll: map[string]bool{},
		out: map[string]*NamespaceResult{}, routeNames: map[string]uniqueNames{}, backendTLS: map[string]bool{}}
	for _, s := range in.Services {
		m.services[s.Namespace+"/"+s.Name] = s
	}
	ings := append([]*networkingv1.Ingress(nil), in.Ingresses...)
	sort.SliceStable(ings, func(a, b int) bool {
		if ings[a].Namespace != ings[b].Namespace {
			return ings[a].Namespace < ings[b].Namespace
		}
		return ings[a].Name < ings[b].Name
	})
	var mains []*ingressPlan
	seen := map[string]bool{}
	for _, ing := range ings {
		rep := &ObjectReport{Object: "Ingress " + ing.Namespace + "/" + ing.Name}
		m.reps = append(m.reps, rep)
		if seen[rep.Object] {
			rep.Skipped = "the input has this Ingress more than once; the first is migrated"
			continue
		}
		seen[rep.Object] = true
		if reason := m.skipReason(ing); reason != "" {
			rep.Skipped = reason
			continue
		}
		p := &ingressPlan{ing: ing, cfg: parseAnnotations(ing, rep), rep: rep}
		if p.cfg.canary != nil {
			m.indexCanary(p)
			continue
		}
		mains = append(mains, p)
	}
	for _, p := range mains {
		m.collectHosts(p)
	}
	m.inheritWildcardTLS()
	m.sharedHostWarnings()
	m.buildListenerSets()
	for _, p := range mains {
		m.buildRoutes(p)
	}
	m.unusedCanaries()
	res := &Result{Gateway: m.gateway()}
	nss := make([]string, 0, len(m.out))
	for ns := range m.out {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		res.Namespaces = append(res.Namespaces, m.out[ns])
	}
	m.summarise(res)
	return res, m.report, nil
}

// skipReason says why an Ingress is not migrated, or "".
func (m *migration) skipReason(ing *networkingv1.Ingress) string {
	class := ing.Annotations["kubernetes.io/ingress.class"]
	if ing.Spec.IngressClassName != nil {
		class = *ing.Spec.IngressClassName
	}
	if m.o.IngressClass != "" && class != m.o.IngressClass {
		return fmt.Sprintf("its class is %q, not %q", class, m.o.IngressClass)
	}
	if len(ing.Spec.Rules) == 0 && ing.Spec.DefaultBackend == nil {
		return "it has no rules and no defaultBackend"
	}
	return ""
}

func canaryKey(ns, host string, p networkingv1.HTTPIngressPath) string {
	t := networkingv1.PathTypeImplementationSpecific
	if p.PathType != nil {
		t = *p.PathType
	}
	if t == networkingv1.PathTypeImplementationSpecific {
		t = networkingv1.PathTypePrefix // ingress-nginx matches canaries by path, treating both as prefixes
	}
	path := p.Path
	if path == "" {
		path = "/"
	}
	return ns + "|" + host + "|" + string(t) + "|" + path
}

// indexCanary files a canary Ingress's paths for its main Ingress to pick up.
func (m *migration) indexCanary(p *ingressPlan) {
	for _, r := range p.ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, path := range r.HTTP.Paths {
			k := canaryKey(p.ing.Namespace, r.Host, path)
			m.canaries[k] = append(m.canaries[k], p)
		}
	}
	if p.ing.Spec.DefaultBackend != nil {
		p.rep.warn("spec.defaultBackend", "a canary Ingress's defaultBackend is not migrated (ingress-nginx does not use it either)")
	}
}

// unusedCanaries reports canaries no main Ingress picked up.
func (m *migration) unusedCanaries() {
	keys := make([]string, 0, len(m.canaries))
	for k := range m.canaries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, p := range m.canaries[k] {
			parts := strings.SplitN(k, "|", 4)
			p.rep.warn("spec.rules", "no main (non-canary) Ingress in namespace %s serves host %q path %s %q: this canary path is not migrated", parts[0], parts[1], parts[2], parts[3])
		}
	}
}

// collectHosts registers an Ingress's hostnames and TLS Secrets in its
// namespace.
func (m *migration) collectHosts(p *ingressPlan) {
	ns := p.ing.Namespace
	if m.hosts[ns] == nil {
		m.hosts[ns] = map[string]*hostListeners{}
	}
	hosts := m.hosts[ns]
	if p.ing.Spec.DefaultBackend != nil && !hasHostRules(p.ing) {
		m.catchAll[ns] = true
	}
	for _, r := range p.ing.Spec.Rules {
		if r.Host == "" {
			m.catchAll[ns] = true
			continue
		}
		if hosts[r.Host] == nil {
			hosts[r.Host] = &hostListeners{}
		}
	}
	defer m.checkCertManager(p)
	for i, t := range p.ing.Spec.TLS {
		field := fmt.Sprintf("spec.tls[%d]", i)
		if len(t.Hosts) == 0 {
			p.rep.warn(field, "a TLS entry without hosts (ingress-nginx's default server certificate) is not migrated: HTTPS needs a hostname on a ListenerSet listener")
			continue
		}
		if t.SecretName == "" {
			p.rep.warn(field, "no secretName: ingress-nginx served its default certificate; no HTTPS listener is created for %s", strings.Join(t.Hosts, ", "))
			continue
		}
		for _, h := range t.Hosts {
			hl := hosts[h]
			if hl == nil {
				hl = &hostListeners{}
				hosts[h] = hl
			}
			switch {
			case hl.secret == "":
				hl.secret = t.SecretName
				hl.certManager = p.cfg.certManager
			case hl.secret != t.SecretName:
				p.rep.warn(field, "host %s already uses Secret %s in this namespace; Secret %s is not used for it", h, hl.secret, t.SecretName)
			}
		}
	}
}

func hasHostRules(ing *networkingv1.Ingress) bool {
	for _, r := range ing.Spec.Rules {
		if r.Host != "" {
			return true
		}
	}
	return false
}

// sharedHostWarnings reports hostnames used in more than one namespace:
// ingress-nginx merged their paths into one server, ListenerSets cannot.
func (m *migration) sharedHostWarnings() {
	byHost := map[string][]string{}
	for ns, hosts := range m.hosts {
		for h := range hosts {
			byHost[h] = append(byHost[h], ns)
		}
	}
	var hosts []string
	for h, nss := range byHost {
		if len(nss) > 1 {
			hosts = append(hosts, h)
			sort.Strings(nss)
		}
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		m.report.Warnings = append(m.report.Warnings, fmt.Sprintf("hostname %s is used by Ingresses in namespaces %s: ingress-nginx merged their paths into one server, but on the Gateway only the oldest ListenerSet's listener for it serves (the others report HostnameConflict); move the Ingresses for %s into one namespace", h, strings.Join(byHost[h], ", "), h))
	}
	var catchAll []string
	for ns := range m.catchAll {
		catchAll = append(catchAll, ns)
	}
	sort.Strings(catchAll)
	if len(catchAll) > 1 {
		m.report.Warnings = append(m.report.Warnings, fmt.Sprintf("namespaces %s have rules without a host (or a defaultBackend): their HTTPRoutes all attach to the Gateway's catch-all listener %q and compete for the same paths", strings.Join(catchAll, ", "), defaultListener))
	}
}

// nsResult returns (creating) a namespace's output.
func (m *migration) nsResult(ns string) *NamespaceResult {
	r := m.out[ns]
	if r == nil {
		r = &NamespaceResult{Namespace: ns}
		m.out[ns] = r
		m.routeNames[ns] = uniqueNames{}
	}
	return r
}

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: gwv1.GroupVersion.String(), Kind: kind}
}

// checkCertManager corrects the outcome of cert-manager annotations on an
// Ingress without a usable TLS entry: there is nothing for cert-manager to
// issue, so they go nowhere.
func (m *migration) checkCertManager(p *ingressPlan) {
	for _, t := range p.ing.Spec.TLS {
		if len(t.Hosts) > 0 && t.SecretName != "" {
			return
		}
	}
	for i, a := range p.rep.Annotations {
		if _, ok := p.cfg.certManager[a.Name]; ok {
			p.rep.Annotations[i] = AnnotationResult{Name: a.Name, Outcome: Ignored,
				Detail: "the Ingress has no spec.tls entry with hosts and a secretName, so there is nothing for cert-manager to issue"}
		}
	}
}

// inheritWildcardTLS gives a host without a TLS Secret of its own the
// Secret of a wildcard TLS host of the namespace that covers it
// (*.example.com covers a.example.com), as ingress-nginx served such a host
// with the wildcard certificate.
func (m *migration) inheritWildcardTLS() {
	for _, hosts := range m.hosts {
		for h, hl := range hosts {
			if hl.secret != "" || strings.HasPrefix(h, "*.") {
				continue
			}
			_, parent, ok := strings.Cut(h, ".")
			if w := hosts["*."+parent]; ok && w != nil && w.secret != "" {
				hl.secret, hl.certManager = w.secret, w.certManager
			}
		}
	}
}
