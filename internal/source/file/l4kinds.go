package file

import (
	"fmt"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/source"
)

// TLSRoute and TCPRoute (gateway.networking.k8s.io/v1 since Gateway API
// v1.5; the experimental channel still serves v1alpha2, whose schema for
// the fields read here is the same).

// maxL4Rules is the CRDs' limit: a TLSRoute or TCPRoute has one rule.
const maxL4Rules = 1

// maxTLSRouteHostnames is the TLSRoute CRD's limit on spec.hostnames.
const maxTLSRouteHostnames = 1024

func init() {
	versions := []string{gatewayV1, "gateway.networking.k8s.io/v1alpha2"}
	kinds[source.KindTLSRoute] = &kindInfo{kind: source.KindTLSRoute,
		apiVersions: versions, namespaced: true,
		newObject:   func() source.Object { return &gatewayv1.TLSRoute{} },
		setDefaults: defaultTLSRoute,
		validate:    validateTLSRoute,
	}
	kinds[source.KindTCPRoute] = &kindInfo{kind: source.KindTCPRoute,
		apiVersions: versions, namespaced: true,
		newObject:   func() source.Object { return &gatewayv1.TCPRoute{} },
		setDefaults: defaultTCPRoute,
		validate:    validateTCPRoute,
	}
}

func defaultTLSRoute(obj source.Object) {
	r := obj.(*gatewayv1.TLSRoute)
	defaultParentRefs(r.Spec.ParentRefs)
	for i := range r.Spec.Rules {
		defaultBackendRefs(r.Spec.Rules[i].BackendRefs)
	}
}

func defaultTCPRoute(obj source.Object) {
	r := obj.(*gatewayv1.TCPRoute)
	defaultParentRefs(r.Spec.ParentRefs)
	for i := range r.Spec.Rules {
		defaultBackendRefs(r.Spec.Rules[i].BackendRefs)
	}
}

func defaultParentRefs(refs []gatewayv1.ParentReference) {
	for i := range refs {
		setDefault(&refs[i].Group, gatewayv1.GroupName)
		setDefault(&refs[i].Kind, "Gateway")
	}
}

func defaultBackendRefs(refs []gatewayv1.BackendRef) {
	for i := range refs {
		setDefault(&refs[i].Group, "")
		setDefault(&refs[i].Kind, "Service")
		if refs[i].Weight == nil {
			refs[i].Weight = ptr(int32(1))
		}
	}
}

func validateTLSRoute(obj source.Object) []fieldIssue {
	r := obj.(*gatewayv1.TLSRoute)
	var issues []fieldIssue
	switch n := len(r.Spec.Hostnames); {
	case n == 0:
		issues = append(issues, fieldIssue{"spec.hostnames", "required: name at least one server name (SNI) the route serves"})
	case n > maxTLSRouteHostnames:
		issues = append(issues, fieldIssue{"spec.hostnames", fmt.Sprintf("at most %d hostnames are allowed, found %d", maxTLSRouteHostnames, n)})
	}
	rules := make([][]gatewayv1.BackendRef, len(r.Spec.Rules))
	for i := range r.Spec.Rules {
		rules[i] = r.Spec.Rules[i].BackendRefs
	}
	return append(issues, validateL4Rules(rules)...)
}

func validateTCPRoute(obj source.Object) []fieldIssue {
	r := obj.(*gatewayv1.TCPRoute)
	rules := make([][]gatewayv1.BackendRef, len(r.Spec.Rules))
	for i := range r.Spec.Rules {
		rules[i] = r.Spec.Rules[i].BackendRefs
	}
	return validateL4Rules(rules)
}

// validateL4Rules checks the single rule of a TLSRoute or TCPRoute.
func validateL4Rules(rules [][]gatewayv1.BackendRef) []fieldIssue {
	var issues []fieldIssue
	if n := len(rules); n == 0 || n > maxL4Rules {
		issues = append(issues, fieldIssue{"spec.rules", fmt.Sprintf("exactly %d rule is allowed, found %d; use one route per destination", maxL4Rules, n)})
	}
	for i, refs := range rules {
		path := fmt.Sprintf("spec.rules[%d].backendRefs", i)
		if n := len(refs); n == 0 || n > maxRuleBackendRefs {
			issues = append(issues, fieldIssue{path, fmt.Sprintf("between 1 and %d backendRefs are required, found %d", maxRuleBackendRefs, n)})
		}
		for j, b := range refs {
			bpath := fmt.Sprintf("%s[%d]", path, j)
			if b.Name == "" {
				issues = append(issues, fieldIssue{bpath + ".name", "required: name the Service (or other backend) to send connections to"})
			}
			if b.Port != nil {
				issues = appendPortIssue(issues, bpath+".port", int64(*b.Port))
			}
		}
	}
	return issues
}
