package file

import (
	"fmt"
	"regexp"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/source"
)

// defaultGRPCRoute applies the GRPCRoute CRD defaults: parentRef and
// backendRef group/kind/weight, method match type Exact, header match type
// Exact.
func defaultGRPCRoute(obj source.Object) {
	r := obj.(*gatewayv1.GRPCRoute)
	for i := range r.Spec.ParentRefs {
		ref := &r.Spec.ParentRefs[i]
		setDefault(&ref.Group, gatewayv1.GroupName)
		setDefault(&ref.Kind, "Gateway")
	}
	for i := range r.Spec.Rules {
		rule := &r.Spec.Rules[i]
		for j := range rule.Matches {
			m := &rule.Matches[j]
			if m.Method != nil {
				setDefault(&m.Method.Type, gatewayv1.GRPCMethodMatchExact)
			}
			for k := range m.Headers {
				setDefault(&m.Headers[k].Type, gatewayv1.GRPCHeaderMatchExact)
			}
		}
		for j := range rule.BackendRefs {
			ref := &rule.BackendRefs[j].BackendRef
			setDefault(&ref.Group, "")
			setDefault(&ref.Kind, "Service")
			if ref.Weight == nil {
				ref.Weight = ptr(int32(1))
			}
		}
	}
}

// The CRD's CEL rules for Exact method matches.
var (
	grpcServicePattern = regexp.MustCompile(`^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$`)
	grpcMethodPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z_0-9]*$`)
)

// validateGRPCRoute checks what the GRPCRoute CRD schema rejects: limits,
// method matches without service and method, invalid Exact names, header
// names, backendRef names and ports.
func validateGRPCRoute(obj source.Object) []fieldIssue {
	r := obj.(*gatewayv1.GRPCRoute)
	return validateRouteRules("GRPCRoute", len(r.Spec.Hostnames), len(r.Spec.Rules), func(i int, path string) (int, []fieldIssue, []gatewayv1.BackendRef) {
		rule := &r.Spec.Rules[i]
		var issues []fieldIssue
		for j, m := range rule.Matches {
			issues = append(issues, validateGRPCMatch(fmt.Sprintf("%s.matches[%d]", path, j), m)...)
		}
		refs := make([]gatewayv1.BackendRef, len(rule.BackendRefs))
		for j := range rule.BackendRefs {
			refs[j] = rule.BackendRefs[j].BackendRef
		}
		return len(rule.Matches), issues, refs
	})
}

func validateGRPCMatch(path string, m gatewayv1.GRPCRouteMatch) []fieldIssue {
	var issues []fieldIssue
	if mm := m.Method; mm != nil {
		service, method := deref(mm.Service), deref(mm.Method)
		if service == "" && method == "" {
			issues = append(issues, fieldIssue{path + ".method", "one or both of service and method must be set"})
		}
		if mm.Type == nil || *mm.Type == gatewayv1.GRPCMethodMatchExact {
			if service != "" && !grpcServicePattern.MatchString(service) {
				issues = append(issues, fieldIssue{path + ".method.service", fmt.Sprintf("%q is not a valid gRPC service name (e.g. my.pkg.Service)", service)})
			}
			if method != "" && !grpcMethodPattern.MatchString(method) {
				issues = append(issues, fieldIssue{path + ".method.method", fmt.Sprintf("%q is not a valid gRPC method name: use letters, digits and _", method)})
			}
		}
	}
	if n := len(m.Headers); n > maxHeaderMatches {
		issues = append(issues, fieldIssue{path + ".headers", fmt.Sprintf("at most %d header matches are allowed, found %d", maxHeaderMatches, n)})
	}
	for i, h := range m.Headers {
		if !isHTTPToken(string(h.Name)) {
			issues = append(issues, fieldIssue{fmt.Sprintf("%s.headers[%d].name", path, i), fmt.Sprintf("%q is not a valid header name: use letters, digits and !#$%%&'*+-.^_`|~ only", h.Name)})
		}
	}
	return issues
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
