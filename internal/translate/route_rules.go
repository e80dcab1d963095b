package translate

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
)

// ruleResults is the translation of an HTTPRoute's rules, independent of
// its parents.
type ruleResults struct {
	routes   []*ir.Route
	invalid  []string // "rule N: why", for rules left out
	backends []string // IR names of the backends used (valid refs only)
	// refReason is the ResolvedRefs reason of the first unresolved ref.
	refReason gwv1.RouteConditionReason
	refErrors []string
}

func (rr *ruleResults) refError(reason gwv1.RouteConditionReason, msg string) {
	if rr.refReason == "" {
		rr.refReason = reason
	}
	rr.refErrors = append(rr.refErrors, msg)
}

func (t *Translator) translateRules(ctx *collection.Ctx, hr *gwv1.HTTPRoute) ruleResults {
	var rr ruleResults
	for i := range hr.Spec.Rules {
		rule := &hr.Spec.Rules[i]
		out := &ir.Route{Name: hr.Namespace + "/" + hr.Name + "/" + strconv.Itoa(i),
			RouteName: hr.Namespace + "/" + hr.Name, RuleIndex: i, Created: hr.CreationTimestamp.Time}
		if rule.Name != nil {
			out.RuleName = string(*rule.Name)
		}
		err := translateMatches(rule.Matches, out)
		if err == nil {
			out.Filters, err = t.translateFilters(ctx, hr, rule.Filters, &rr, fmt.Sprintf("spec.rules[%d].filters", i))
		}
		if err == nil {
			out.Timeouts, err = translateTimeouts(rule.Timeouts)
		}
		if err == nil {
			out.Retry, err = translateRetry(rule.Retry)
		}
		if err != nil {
			rr.invalid = append(rr.invalid, fmt.Sprintf("spec.rules[%d]: %v", i, err))
			continue
		}
		for j := range rule.BackendRefs {
			br := &rule.BackendRefs[j]
			field := fmt.Sprintf("spec.rules[%d].backendRefs[%d]", i, j)
			ref := t.resolveBackend(ctx, routeRef{Kind: "HTTPRoute", Namespace: hr.Namespace}, br.BackendObjectReference, field, &rr)
			ref.Weight = 1
			if br.Weight != nil {
				ref.Weight = *br.Weight
			}
			ref.Filters, err = t.translateFilters(ctx, hr, br.Filters, &rr, field+".filters")
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

func translateMatches(matches []gwv1.HTTPRouteMatch, out *ir.Route) error {
	if len(matches) == 0 {
		out.Matches = []ir.Match{{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}}}
		return nil
	}
	for i, m := range matches {
		field := fmt.Sprintf("matches[%d]", i)
		im := ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}}
		if m.Path != nil {
			if m.Path.Type != nil {
				im.Path.Type = ir.PathMatchType(*m.Path.Type)
			}
			if m.Path.Value != nil {
				im.Path.Value = *m.Path.Value
			}
			switch im.Path.Type {
			case ir.PathExact, ir.PathPrefix:
				if !strings.HasPrefix(im.Path.Value, "/") {
					return fmt.Errorf("%s.path.value %q must start with /", field, im.Path.Value)
				}
			case ir.PathRegex:
				if _, err := regexp.Compile(im.Path.Value); err != nil {
					return fmt.Errorf("%s.path.value: invalid regular expression: %v", field, err)
				}
			default:
				return fmt.Errorf("%s.path.type %q is not supported", field, im.Path.Type)
			}
		}
		for j, h := range m.Headers {
			vm, err := valueMatch(string(h.Name), h.Value, h.Type != nil && *h.Type == gwv1.HeaderMatchRegularExpression)
			if err != nil {
				return fmt.Errorf("%s.headers[%d]: %v", field, j, err)
			}
			im.Headers = append(im.Headers, vm)
		}
		for j, q := range m.QueryParams {
			vm, err := valueMatch(string(q.Name), q.Value, q.Type != nil && *q.Type == gwv1.QueryParamMatchRegularExpression)
			if err != nil {
				return fmt.Errorf("%s.queryParams[%d]: %v", field, j, err)
			}
			im.QueryParams = append(im.QueryParams, vm)
		}
		if m.Method != nil {
			im.Method = string(*m.Method)
		}
		out.Matches = append(out.Matches, im)
	}
	return nil
}

func valueMatch(name, value string, regex bool) (ir.ValueMatch, error) {
	if regex {
		if _, err := regexp.Compile(value); err != nil {
			return ir.ValueMatch{}, fmt.Errorf("invalid regular expression: %v", err)
		}
	}
	return ir.ValueMatch{Name: name, Value: value, Regex: regex}, nil
}

func translateTimeouts(t *gwv1.HTTPRouteTimeouts) (ir.Timeouts, error) {
	var out ir.Timeouts
	if t == nil {
		return out, nil
	}
	var err error
	if t.Request != nil {
		if out.Request, err = parseDuration(string(*t.Request)); err != nil {
			return out, fmt.Errorf("timeouts.request: %v", err)
		}
	}
	if t.BackendRequest != nil {
		if out.BackendRequest, err = parseDuration(string(*t.BackendRequest)); err != nil {
			return out, fmt.Errorf("timeouts.backendRequest: %v", err)
		}
	}
	if out.Request > 0 && out.BackendRequest > out.Request {
		return out, fmt.Errorf("timeouts.backendRequest (%s) must not exceed timeouts.request (%s)", out.BackendRequest, out.Request)
	}
	return out, nil
}

// Retry defaults where the rule leaves a field out (the spec leaves both to
// the implementation): one retry, after at least 25ms.
const (
	defaultRetryAttempts = 1
	defaultRetryBackoff  = 25 * time.Millisecond
)

// translateRetry reads a rule's retry stanza; nil when there is none.
func translateRetry(r *gwv1.HTTPRouteRetry) (*ir.Retry, error) {
	if r == nil {
		return nil, nil
	}
	out := &ir.Retry{Attempts: defaultRetryAttempts, Backoff: defaultRetryBackoff}
	for i, c := range r.Codes {
		if c < 400 || c > 599 {
			return nil, fmt.Errorf("retry.codes[%d]: %d is not an HTTP error status; use a code from 400 to 599", i, c)
		}
		if !slices.Contains(out.Codes, int(c)) {
			out.Codes = append(out.Codes, int(c))
		}
	}
	if r.Attempts != nil {
		if *r.Attempts < 1 {
			return nil, fmt.Errorf("retry.attempts: %d must be at least 1", *r.Attempts)
		}
		out.Attempts = *r.Attempts
	}
	if r.Backoff != nil {
		var err error
		if out.Backoff, err = parseDuration(string(*r.Backoff)); err != nil {
			return nil, fmt.Errorf("retry.backoff: %v", err)
		}
	}
	return out, nil
}

// parseDuration reads a Gateway API duration ("1h", "10s", "500ms", "0s").
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a valid duration such as 10s or 500ms", s)
	}
	return d, nil
}

// resolveBackend turns a backend reference of a route (kind and namespace in
// from) into an IR BackendRef, recording why it is invalid when it does not
// resolve.
func (t *Translator) resolveBackend(ctx *collection.Ctx, from routeRef, ref gwv1.BackendObjectReference, field string, rr *ruleResults) ir.BackendRef {
	group, kind := "", "Service"
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	ns := from.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	out := ir.BackendRef{}
	if ref.Port != nil {
		out.Port = int32(*ref.Port)
	}
	fail := func(reason gwv1.RouteConditionReason, msg string) ir.BackendRef {
		out.Invalid = field + ": " + msg
		rr.refError(reason, out.Invalid)
		return out
	}
	isService := group == "" && kind == "Service"
	isStatic := group == v1alpha1.GroupName && kind == v1alpha1.StaticBackendKind
	if !isService && !isStatic {
		return fail(gwv1.RouteReasonInvalidKind, fmt.Sprintf("kind %s/%s is not supported; use Service or gatehouse.dev/StaticBackend", group, kind))
	}
	if !t.referenceAllowed(ctx, gwv1.GroupName, from.Kind, from.Namespace, group, kind, ns, string(ref.Name)) {
		return fail(gwv1.RouteReasonRefNotPermitted, fmt.Sprintf("%s %s/%s is in another namespace and no ReferenceGrant allows it", kind, ns, ref.Name))
	}
	key := ns + "/" + string(ref.Name)
	if isStatic {
		if _, ok := collection.Fetch(ctx, t.in.StaticBackends.Collection, key); !ok {
			return fail(gwv1.RouteReasonBackendNotFound, fmt.Sprintf("StaticBackend %s not found", key))
		}
		out.Backend = staticBackendName(key)
	} else {
		svc, ok := collection.Fetch(ctx, t.in.Services.Collection, key)
		if !ok {
			return fail(gwv1.RouteReasonBackendNotFound, fmt.Sprintf("Service %s not found", key))
		}
		if ref.Port == nil {
			return fail(gwv1.RouteReasonBackendNotFound, "port is required for a Service")
		}
		found := false
		for _, p := range svc.Spec.Ports {
			found = found || p.Port == int32(*ref.Port)
		}
		if !found {
			return fail(gwv1.RouteReasonBackendNotFound, fmt.Sprintf("Service %s has no port %d", key, *ref.Port))
		}
		if msg := t.backendTLSProblem(ctx, svc, int32(*ref.Port)); msg != "" {
			// Reported, but the ref stays: the Backend carries the invalid
			// TLS, so the proxy refuses its connections (5xx), and the
			// policy's status still finds this route (backendtls.go).
			rr.refError(routeReasonInvalidBackendTLS, field+": "+msg)
		}
		out.Backend = t.serviceBackendFor(ctx, svc, int32(*ref.Port)) // backendtls.go
	}
	rr.backends = appendUnique(rr.backends, out.Backend)
	return out
}

func serviceBackendName(key string) string { return "Service/" + key }
func staticBackendName(key string) string  { return v1alpha1.StaticBackendKind + "/" + key }
