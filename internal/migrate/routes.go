package migrate

import (
	"fmt"
	"regexp"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// maxRulesPerRoute is the HTTPRoute CRD's limit on rules; longer rule lists
// are split over several HTTPRoutes.
const maxRulesPerRoute = 16

// MigratedFromAnnotation names, on every generated route and policy, the
// Ingress it came from.
const MigratedFromAnnotation = "gatehouse.dev/migrated-from"

// hostGroup is an Ingress's rules for one hostname.
type hostGroup struct {
	host  string
	paths []fieldPath
}

type fieldPath struct {
	field string
	path  networkingv1.HTTPIngressPath
}

// groupByHost collects an Ingress's paths per hostname, in order.
func groupByHost(ing *networkingv1.Ingress) []*hostGroup {
	var groups []*hostGroup
	byHost := map[string]*hostGroup{}
	for i, r := range ing.Spec.Rules {
		g := byHost[r.Host]
		if g == nil {
			g = &hostGroup{host: r.Host}
			byHost[r.Host] = g
			groups = append(groups, g)
		}
		if r.HTTP == nil {
			continue
		}
		for j, p := range r.HTTP.Paths {
			g.paths = append(g.paths, fieldPath{fmt.Sprintf("spec.rules[%d].http.paths[%d]", i, j), p})
		}
	}
	if ing.Spec.DefaultBackend != nil && byHost[""] == nil && !hasHostRules(ing) {
		groups = append(groups, &hostGroup{host: ""})
	}
	return groups
}

// buildRoutes writes the HTTPRoutes (and TrafficPolicy) of one main
// Ingress: per hostname a serving route and, where ingress-nginx redirected
// HTTP to HTTPS, a redirect route on the HTTP listener.
func (m *migration) buildRoutes(p *ingressPlan) {
	ns := p.ing.Namespace
	out := m.nsResult(ns)
	var serving []string
	uses := &backendUses{}
	for _, g := range groupByHost(p.ing) {
		rules := m.servingRules(p, g, uses)
		if len(rules) == 0 {
			continue
		}
		parents, redirectParents, viaHeader := m.parents(p, g.host)
		if g.host != "" {
			p.rep.Outputs = appendOnce(p.rep.Outputs, "ListenerSet "+ns+"/"+m.hosts[ns][g.host].listenerSet)
		} else {
			p.rep.Outputs = appendOnce(p.rep.Outputs, "Gateway "+m.o.GatewayNamespace+"/"+m.o.GatewayName+" listener "+string(defaultListener))
		}
		base := p.ing.Name + "-" + hostPart(g.host)
		for _, r := range m.routes(p, base, g.host, parents, rules) {
			out.HTTPRoutes = append(out.HTTPRoutes, r)
			serving = append(serving, r.Name)
			p.rep.Outputs = append(p.rep.Outputs, "HTTPRoute "+ns+"/"+r.Name)
		}
		if len(redirectParents) > 0 {
			for _, r := range m.routes(p, base+"-redirect", g.host, redirectParents, m.redirectRules(rules, viaHeader)) {
				out.HTTPRoutes = append(out.HTTPRoutes, r)
				p.rep.Outputs = append(p.rep.Outputs, "HTTPRoute "+ns+"/"+r.Name)
			}
		}
	}
	if len(serving) > 0 {
		m.sourceRangePolicy(p, serving)
	}
	m.backendProtocol(p, uses)
}

// servingRules translates a host's paths, merging canaries, and adds the
// app-root redirect and the defaultBackend.
func (m *migration) servingRules(p *ingressPlan, g *hostGroup, uses *backendUses) []gwv1.HTTPRouteRule {
	var rules []gwv1.HTTPRouteRule
	hasRoot := false
	for _, fp := range g.paths {
		plan, ok := p.cfg.planPath(fp.path, fp.field, p.rep)
		if !ok {
			continue
		}
		main, ok := m.backendRef(p, fp.path.Backend, fp.field+".backend", uses)
		if !ok {
			continue
		}
		if *plan.match.Type == gwv1.PathMatchPathPrefix && *plan.match.Value == "/" {
			hasRoot = true
		}
		rules = append(rules, m.canaryRules(p, g.host, fp.path, plan, main, uses)...)
	}
	if d := p.ing.Spec.DefaultBackend; d != nil && !hasRoot {
		if b, ok := m.backendRef(p, *d, "spec.defaultBackend", uses); ok {
			t, root := gwv1.PathMatchPathPrefix, "/"
			rules = append(rules, p.cfg.rule(pathPlan{match: gwv1.HTTPPathMatch{Type: &t, Value: &root}}, nil, []gwv1.HTTPBackendRef{b}))
		}
	}
	if p.cfg.appRoot != "" && len(rules) > 0 {
		t, root, target, code := gwv1.PathMatchExact, "/", p.cfg.appRoot, 302
		rules = append(rules, gwv1.HTTPRouteRule{
			Matches: []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &t, Value: &root}}},
			Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gwv1.HTTPRequestRedirectFilter{
				StatusCode: &code, Path: &gwv1.HTTPPathModifier{Type: gwv1.FullPathHTTPPathModifier, ReplaceFullPath: &target}}}},
		})
	}
	return rules
}

// rule builds one rule: the match (plus extra header conditions), the
// Ingress's filters and timeouts, and the backends — or, for
// permanent/temporal-redirect, the redirect alone.
func (c *ingressConfig) rule(plan pathPlan, headers []gwv1.HTTPHeaderMatch, backends []gwv1.HTTPBackendRef) gwv1.HTTPRouteRule {
	match := plan.match
	r := gwv1.HTTPRouteRule{Matches: []gwv1.HTTPRouteMatch{{Path: &match, Headers: headers}}}
	if c.redirect != nil {
		r.Filters = []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestRedirect, RequestRedirect: c.redirect}}
		return r
	}
	if plan.rewrite != nil || c.upstreamVhost != "" {
		rw := &gwv1.HTTPURLRewriteFilter{Path: plan.rewrite}
		if c.upstreamVhost != "" {
			h := gwv1.PreciseHostname(c.upstreamVhost)
			rw.Hostname = &h
		}
		r.Filters = append(r.Filters, gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterURLRewrite, URLRewrite: rw})
	}
	if c.forwardedPref != "" {
		r.Filters = append(r.Filters, gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterRequestHeaderModifier,
			RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Set: []gwv1.HTTPHeader{{Name: "X-Forwarded-Prefix", Value: c.forwardedPref}}}})
	}
	if c.cors != nil {
		r.Filters = append(r.Filters, gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterCORS, CORS: c.cors})
	}
	r.BackendRefs = backends
	r.Timeouts = c.timeouts
	return r
}

// canaryRules returns the rules for one main path: the path itself (with
// the canary's weight, if any) and the header and cookie rules of a canary
// Ingress for the same host and path.
func (m *migration) canaryRules(p *ingressPlan, host string, path networkingv1.HTTPIngressPath, plan pathPlan, main gwv1.HTTPBackendRef, uses *backendUses) []gwv1.HTTPRouteRule {
	key := canaryKey(p.ing.Namespace, host, path)
	cands := m.canaries[key]
	delete(m.canaries, key)
	if len(cands) == 0 {
		return []gwv1.HTTPRouteRule{p.cfg.rule(plan, nil, []gwv1.HTTPBackendRef{main})}
	}
	for _, extra := range cands[1:] {
		extra.rep.warn("spec.rules", "another canary Ingress already serves host %q path %q; ingress-nginx uses one canary per path, so this one is not migrated", host, path.Path)
	}
	cp := cands[0]
	var cpath networkingv1.HTTPIngressPath
	for _, r := range cp.ing.Spec.Rules {
		if r.HTTP == nil || r.Host != host {
			continue
		}
		for _, pp := range r.HTTP.Paths {
			if canaryKey(cp.ing.Namespace, r.Host, pp) == key {
				cpath = pp
			}
		}
	}
	canary, ok := m.backendRef(cp, cpath.Backend, "spec.rules", uses)
	if !ok {
		return []gwv1.HTTPRouteRule{p.cfg.rule(plan, nil, []gwv1.HTTPBackendRef{main})}
	}
	cp.rep.Outputs = appendOnce(cp.rep.Outputs, "rules of Ingress "+p.ing.Namespace+"/"+p.ing.Name+" (host "+host+")")
	spec := cp.cfg.canary
	only := func(b gwv1.HTTPBackendRef) []gwv1.HTTPBackendRef { return []gwv1.HTTPBackendRef{b} }
	rules := p.cfg.canarySelectRules(plan, spec, main, canary, cp.rep)
	backends := only(main)
	if spec.weight > 0 {
		w := min(spec.weight, spec.weightTotal)
		mw, cw := spec.weightTotal-w, w
		main.Weight, canary.Weight = &mw, &cw
		backends = []gwv1.HTTPBackendRef{main, canary}
	}
	return append([]gwv1.HTTPRouteRule{p.cfg.rule(plan, nil, backends)}, rules...)
}

// canarySelectRules are the rules a canary's header and cookie selection
// adds (before the weight, as ingress-nginx checks header, then cookie,
// then weight).
func (c *ingressConfig) canarySelectRules(plan pathPlan, spec *canarySpec, main, canary gwv1.HTTPBackendRef, canaryRep *ObjectReport) []gwv1.HTTPRouteRule {
	only := func(b gwv1.HTTPBackendRef) []gwv1.HTTPBackendRef { return []gwv1.HTTPBackendRef{b} }
	exact, re := gwv1.HeaderMatchExact, gwv1.HeaderMatchRegularExpression
	var rules []gwv1.HTTPRouteRule
	if spec.header != "" {
		name := gwv1.HTTPHeaderName(spec.header)
		switch {
		case spec.headerValue != "":
			rules = append(rules, c.rule(plan, []gwv1.HTTPHeaderMatch{{Type: &exact, Name: name, Value: spec.headerValue}}, only(canary)))
		case spec.headerPattern != "":
			if _, err := regexp.Compile(spec.headerPattern); err != nil {
				canaryRep.warn("metadata.annotations", "canary-by-header-pattern %q is not RE2 syntax: header rule not migrated", spec.headerPattern)
				break
			}
			rules = append(rules, c.rule(plan, []gwv1.HTTPHeaderMatch{{Type: &re, Name: name, Value: ".*(?:" + spec.headerPattern + ").*"}}, only(canary)))
		default:
			rules = append(rules,
				c.rule(plan, []gwv1.HTTPHeaderMatch{{Type: &exact, Name: name, Value: "always"}}, only(canary)),
				c.rule(plan, []gwv1.HTTPHeaderMatch{{Type: &exact, Name: name, Value: "never"}}, only(main)))
		}
	}
	if spec.cookie != "" {
		cookie := func(v string) string { return `(.*;\s*)?` + regexp.QuoteMeta(spec.cookie) + `=` + v + `(;.*)?` }
		rules = append(rules,
			c.rule(plan, []gwv1.HTTPHeaderMatch{{Type: &re, Name: "Cookie", Value: cookie("always")}}, only(canary)),
			c.rule(plan, []gwv1.HTTPHeaderMatch{{Type: &re, Name: "Cookie", Value: cookie("never")}}, only(main)))
	}
	return rules
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// parents decides where a host's routes attach: the serving route, the
// redirect route (if any), and whether the redirect applies only to
// requests that came over plain HTTP to a TLS-terminating proxy in front
// (X-Forwarded-Proto: http).
func (m *migration) parents(p *ingressPlan, host string) (serving, redirect []gwv1.ParentReference, viaHeader bool) {
	cfg := p.cfg
	if host == "" {
		ref := m.gatewayParent()
		if cfg.forceSSL {
			return []gwv1.ParentReference{ref}, []gwv1.ParentReference{ref}, true
		}
		return []gwv1.ParentReference{ref}, nil, false
	}
	hl := m.hosts[p.ing.Namespace][host]
	http := m.setParent(hl.listenerSet, hl.http)
	if hl.https == "" {
		if cfg.forceSSL {
			return []gwv1.ParentReference{http}, []gwv1.ParentReference{http}, true
		}
		return []gwv1.ParentReference{http}, nil, false
	}
	https := m.setParent(hl.listenerSet, hl.https)
	if cfg.forceSSL || cfg.sslRedirect == nil || *cfg.sslRedirect {
		return []gwv1.ParentReference{https}, []gwv1.ParentReference{http}, false
	}
	return []gwv1.ParentReference{http, https}, nil, false
}

func (m *migration) setParent(name string, section gwv1.SectionName) gwv1.ParentReference {
	kind := gwv1.Kind("ListenerSet")
	return gwv1.ParentReference{Kind: &kind, Name: gwv1.ObjectName(name), SectionName: &section}
}

func (m *migration) gatewayParent() gwv1.ParentReference {
	ns, section := gwv1.Namespace(m.o.GatewayNamespace), defaultListener
	return gwv1.ParentReference{Namespace: &ns, Name: gwv1.ObjectName(m.o.GatewayName), SectionName: &section}
}

// redirectRules mirrors the serving rules' matches with a redirect to
// HTTPS (308, as ingress-nginx answers).
func (m *migration) redirectRules(serving []gwv1.HTTPRouteRule, viaHeader bool) []gwv1.HTTPRouteRule {
	scheme, code := "https", 308
	f := &gwv1.HTTPRequestRedirectFilter{Scheme: &scheme, StatusCode: &code}
	if m.o.HTTPSPort != 443 {
		port := gwv1.PortNumber(m.o.HTTPSPort)
		f.Port = &port
	}
	exact := gwv1.HeaderMatchExact
	var out []gwv1.HTTPRouteRule
	for _, r := range serving {
		var matches []gwv1.HTTPRouteMatch
		for _, mt := range r.Matches {
			if viaHeader {
				mt.Headers = append(append([]gwv1.HTTPHeaderMatch(nil), mt.Headers...), gwv1.HTTPHeaderMatch{Type: &exact, Name: "X-Forwarded-Proto", Value: "http"})
			}
			matches = append(matches, mt)
		}
		out = append(out, gwv1.HTTPRouteRule{Matches: matches,
			Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestRedirect, RequestRedirect: f}}})
	}
	return out
}

// routes builds HTTPRoutes named after base (-2, -3... when the rules do
// not fit in one).
func (m *migration) routes(p *ingressPlan, base, host string, parents []gwv1.ParentReference, rules []gwv1.HTTPRouteRule) []*gwv1.HTTPRoute {
	var out []*gwv1.HTTPRoute
	m.nsResult(p.ing.Namespace)
	names := m.routeNames[p.ing.Namespace]
	for start := 0; start < len(rules); start += maxRulesPerRoute {
		end := min(start+maxRulesPerRoute, len(rules))
		r := &gwv1.HTTPRoute{TypeMeta: typeMeta("HTTPRoute"),
			ObjectMeta: metav1.ObjectMeta{Name: names.take(base), Namespace: p.ing.Namespace, Labels: copyMap(p.ing.Labels),
				Annotations: map[string]string{MigratedFromAnnotation: "Ingress " + p.ing.Namespace + "/" + p.ing.Name}},
			Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: parents}, Rules: rules[start:end]}}
		if host != "" {
			r.Spec.Hostnames = []gwv1.Hostname{gwv1.Hostname(host)}
		}
		out = append(out, r)
	}
	return out
}

func copyMap(in map[string]string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
