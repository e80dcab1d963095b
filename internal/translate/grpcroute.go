package translate

import (
	"fmt"
	"regexp"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
)

// grpcRouteKind is the route kind, also the prefix of the IR names of its
// rules: an HTTPRoute and a GRPCRoute of the same namespace/name must not
// collide in the router, in policy targeting (which matches RouteName) or
// in telemetry labels.
const grpcRouteKind = "GRPCRoute"

// translateGRPCRoute translates a GRPCRoute: one ir.Route per rule, its gRPC
// method matches turned into matches on the HTTP/2 path "/service/method".
func (t *Translator) translateGRPCRoute(ctx *collection.Ctx, gr *gwv1.GRPCRoute) (*routeResult, bool) {
	from := routeRef{Kind: grpcRouteKind, Namespace: gr.Namespace, Hostnames: gr.Spec.Hostnames}
	outcomes := t.attachParents(ctx, from, gr.Spec.ParentRefs)
	if len(outcomes) == 0 {
		return nil, false // not attached to anything of ours: no IR, no status
	}
	rules := t.translateGRPCRules(ctx, gr)
	return assembleRoute(grpcRouteKind, &gr.ObjectMeta, outcomes, rules, t.controller), true
}

// assembleRoute joins a route's parent outcomes and translated rules into
// its result, for any route kind whose rules are ir.Routes.
func assembleRoute(kind string, meta *metav1.ObjectMeta, outcomes []parentOutcome, rules ruleResults, controller string) *routeResult {
	res := &routeResult{}
	parents := mergeParents(outcomes)
	if len(parents) > 0 {
		for _, rule := range rules.routes {
			rule.Parents = parents
			res.Rules = append(res.Rules, rule)
		}
		for _, p := range parents {
			res.Listeners = append(res.Listeners, p.Listener)
		}
		res.Backends = rules.backends
	}
	for _, o := range outcomes {
		for _, l := range o.pending {
			res.Listeners = appendUnique(res.Listeners, l)
		}
	}
	res.Status = routeStatus(kind, meta, outcomes, rules.verdict(), controller)
	return res
}

func (t *Translator) translateGRPCRules(ctx *collection.Ctx, gr *gwv1.GRPCRoute) ruleResults {
	var rr ruleResults
	from := routeRef{Kind: grpcRouteKind, Namespace: gr.Namespace}
	routeName := grpcRouteKind + "/" + gr.Namespace + "/" + gr.Name
	rules := gr.Spec.Rules
	if len(rules) == 0 {
		rules = []gwv1.GRPCRouteRule{{}} // no rules: match every request, no backend (500)
	}
	for i := range rules {
		rule := &rules[i]
		field := fmt.Sprintf("spec.rules[%d]", i)
		out := &ir.Route{Name: routeName + "/" + strconv.Itoa(i), RouteName: routeName, RuleIndex: i,
			Created: gr.CreationTimestamp.Time}
		if rule.Name != nil {
			out.RuleName = string(*rule.Name)
		}
		var err error
		if out.Matches, err = grpcMatches(rule.Matches); err != nil {
			err = fmt.Errorf("%s.%v", field, err)
		} else {
			out.Filters, err = t.grpcFilters(ctx, from, rule.Filters, &rr, field+".filters")
		}
		if err != nil {
			rr.invalid = append(rr.invalid, err.Error())
			continue
		}
		for j := range rule.BackendRefs {
			br := &rule.BackendRefs[j]
			bfield := fmt.Sprintf("%s.backendRefs[%d]", field, j)
			ref := t.resolveBackend(ctx, from, br.BackendObjectReference, bfield, &rr)
			ref.Weight = 1
			if br.Weight != nil {
				ref.Weight = *br.Weight
			}
			ref.Filters, err = t.grpcFilters(ctx, from, br.Filters, &rr, bfield+".filters")
			if err != nil {
				ref.Invalid = err.Error()
				ref.Filters = nil
			}
			out.Backends = append(out.Backends, ref)
		}
		rr.routes = append(rr.routes, out)
	}
	return rr
}

// grpcMatches turns GRPCRouteMatches into path and header matches. No
// match matches every request.
func grpcMatches(matches []gwv1.GRPCRouteMatch) ([]ir.Match, error) {
	if len(matches) == 0 {
		return []ir.Match{{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}}}, nil
	}
	out := make([]ir.Match, 0, len(matches))
	for i, m := range matches {
		field := fmt.Sprintf("matches[%d]", i)
		path, err := grpcMethodPath(m.Method)
		if err != nil {
			return nil, fmt.Errorf("%s.method: %v", field, err)
		}
		im := ir.Match{Path: path}
		for j, h := range m.Headers {
			regex := h.Type != nil && *h.Type == gwv1.GRPCHeaderMatchRegularExpression
			vm, err := valueMatch(string(h.Name), h.Value, regex)
			if err != nil {
				return nil, fmt.Errorf("%s.headers[%d]: %v", field, j, err)
			}
			im.Headers = append(im.Headers, vm)
		}
		out = append(out, im)
	}
	return out, nil
}

// Valid Exact service and method names, as the CRD validates them.
var (
	grpcServiceName = regexp.MustCompile(`^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$`)
	grpcMethodName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z_0-9]*$`)
)

// grpcMethodPath maps a method match onto the request path, which gRPC
// always sends as "/package.Service/Method":
//
//   - no method match, or neither service nor method: every path (prefix "/");
//   - Exact service and method: the exact path;
//   - Exact service only: the prefix "/service/" (every method of it);
//   - Exact method only: any service with that method (a regex);
//   - RegularExpression: "/(service)/(method)", an omitted part matching any
//     service or method name (no "/").
//
// The router ranks exact paths above prefixes above regexes, which follows
// the spec's precedence (more characters of service and method first).
func grpcMethodPath(m *gwv1.GRPCMethodMatch) (ir.PathMatch, error) {
	if m == nil {
		return ir.PathMatch{Type: ir.PathPrefix, Value: "/"}, nil
	}
	var service, method string
	if m.Service != nil {
		service = *m.Service
	}
	if m.Method != nil {
		method = *m.Method
	}
	if service == "" && method == "" {
		return ir.PathMatch{}, fmt.Errorf("one or both of service and method must be set")
	}
	if m.Type != nil && *m.Type == gwv1.GRPCMethodMatchRegularExpression {
		return grpcRegexPath(service, method)
	}
	if m.Type != nil && *m.Type != gwv1.GRPCMethodMatchExact {
		return ir.PathMatch{}, fmt.Errorf("type %q is not supported; use Exact or RegularExpression", *m.Type)
	}
	if service != "" && !grpcServiceName.MatchString(service) {
		return ir.PathMatch{}, fmt.Errorf("service %q is not a valid gRPC service name (e.g. my.pkg.Service)", service)
	}
	if method != "" && !grpcMethodName.MatchString(method) {
		return ir.PathMatch{}, fmt.Errorf("method %q is not a valid gRPC method name (letters, digits and _)", method)
	}
	switch {
	case method == "":
		return ir.PathMatch{Type: ir.PathPrefix, Value: "/" + service + "/"}, nil
	case service == "":
		return ir.PathMatch{Type: ir.PathRegex, Value: `/[^/]+/` + regexp.QuoteMeta(method)}, nil
	}
	return ir.PathMatch{Type: ir.PathExact, Value: "/" + service + "/" + method}, nil
}

func grpcRegexPath(service, method string) (ir.PathMatch, error) {
	for _, part := range []struct{ name, re string }{{"service", service}, {"method", method}} {
		if part.re == "" {
			continue
		}
		if _, err := regexp.Compile(part.re); err != nil {
			return ir.PathMatch{}, fmt.Errorf("%s: invalid regular expression: %v", part.name, err)
		}
	}
	if service == "" {
		service = `[^/]+`
	}
	if method == "" {
		method = `[^/]+`
	}
	// The proxy anchors path regexes; the groups keep an alternation in one
	// part from spilling into the other.
	return ir.PathMatch{Type: ir.PathRegex, Value: "/(?:" + service + ")/(?:" + method + ")"}, nil
}

// grpcFilters converts GRPCRoute filters (header modifiers and mirrors; an
// ExtensionRef or an unknown type makes the rule invalid).
func (t *Translator) grpcFilters(ctx *collection.Ctx, from routeRef, filters []gwv1.GRPCRouteFilter, rr *ruleResults, field string) ([]ir.Filter, error) {
	var out []ir.Filter
	for i, f := range filters {
		ff := fmt.Sprintf("%s[%d]", field, i)
		switch f.Type {
		case gwv1.GRPCRouteFilterRequestHeaderModifier:
			if f.RequestHeaderModifier == nil {
				return nil, fmt.Errorf("%s: requestHeaderModifier is required for its type", ff)
			}
			out = append(out, ir.Filter{Type: ir.FilterRequestHeaders, RequestHeaders: headerModifier(f.RequestHeaderModifier)})
		case gwv1.GRPCRouteFilterResponseHeaderModifier:
			if f.ResponseHeaderModifier == nil {
				return nil, fmt.Errorf("%s: responseHeaderModifier is required for its type", ff)
			}
			out = append(out, ir.Filter{Type: ir.FilterResponseHeaders, ResponseHeaders: headerModifier(f.ResponseHeaderModifier)})
		case gwv1.GRPCRouteFilterRequestMirror:
			if f.RequestMirror == nil {
				return nil, fmt.Errorf("%s: requestMirror is required for its type", ff)
			}
			ref := t.resolveBackend(ctx, from, f.RequestMirror.BackendRef, ff+".requestMirror.backendRef", rr)
			if ref.Invalid != "" {
				continue // reported in ResolvedRefs; the rule still serves without the mirror
			}
			out = append(out, ir.Filter{Type: ir.FilterMirror, Mirror: &ir.Mirror{Backend: ref, Percent: mirrorPercent(f.RequestMirror)}})
		default:
			return nil, fmt.Errorf("%s: filter type %s is not supported; use RequestHeaderModifier, ResponseHeaderModifier or RequestMirror", ff, f.Type)
		}
	}
	if err := checkFilterCombination(out); err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	return out, nil
}
