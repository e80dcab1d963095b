package file

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/internal/source"
)

// These checks mirror the parts of the Gateway API CRD schemas and the
// apiserver's validation that a user is most likely to get wrong. Limits
// are the CRDs' MaxItems.
const (
	maxListeners       = 64
	maxRouteHostnames  = 16
	maxRouteRules      = 16
	maxRuleMatches     = 64
	maxRuleBackendRefs = 16
	maxHeaderMatches   = 16
)

// validateMeta checks object and namespace names as the apiserver does.
func validateMeta(info *kindInfo, key objectKey) []fieldIssue {
	var issues []fieldIssue
	nameErrs := validation.IsDNS1123Subdomain(key.name)
	if info.kind == source.KindNamespace {
		nameErrs = validation.IsDNS1123Label(key.name)
	}
	if len(nameErrs) > 0 {
		issues = append(issues, fieldIssue{"metadata.name", fmt.Sprintf("invalid name %q: %s", key.name, strings.Join(nameErrs, "; "))})
	}
	if key.namespace != "" {
		if errs := validation.IsDNS1123Label(key.namespace); len(errs) > 0 {
			issues = append(issues, fieldIssue{"metadata.namespace", fmt.Sprintf("invalid namespace %q: %s", key.namespace, strings.Join(errs, "; "))})
		}
	}
	return issues
}

func validateGatewayClass(obj source.Object) []fieldIssue {
	gc := obj.(*gatewayv1.GatewayClass)
	if gc.Spec.ControllerName == "" {
		return []fieldIssue{{"spec.controllerName", "required: set it to the controller that implements this class, e.g. gatehouse.dev/gateway-controller"}}
	}
	return nil
}

func validateGateway(obj source.Object) []fieldIssue {
	gw := obj.(*gatewayv1.Gateway)
	var issues []fieldIssue
	if gw.Spec.GatewayClassName == "" {
		issues = append(issues, fieldIssue{"spec.gatewayClassName", "required: name the GatewayClass this Gateway uses"})
	}
	return append(issues, validateListeners("Gateway", len(gw.Spec.Listeners), func(i int) (gatewayv1.SectionName, gatewayv1.PortNumber, gatewayv1.ProtocolType) {
		l := &gw.Spec.Listeners[i]
		return l.Name, l.Port, l.Protocol
	})...)
}

// validateListeners checks the n listeners of a Gateway or ListenerSet
// (owner) as the CRD schemas do: count, unique names, ports, protocols.
func validateListeners(owner string, n int, get func(i int) (gatewayv1.SectionName, gatewayv1.PortNumber, gatewayv1.ProtocolType)) []fieldIssue {
	var issues []fieldIssue
	if n > maxListeners {
		issues = append(issues, fieldIssue{"spec.listeners", fmt.Sprintf("at most %d listeners are allowed, found %d; split them across Gateways or ListenerSets", maxListeners, n)})
	}
	seen := map[gatewayv1.SectionName]int{}
	for i := 0; i < n; i++ {
		name, port, protocol := get(i)
		path := fmt.Sprintf("spec.listeners[%d]", i)
		if name == "" {
			issues = append(issues, fieldIssue{path + ".name", "required: give each listener a unique name"})
		} else if first, dup := seen[name]; dup {
			issues = append(issues, fieldIssue{path + ".name", fmt.Sprintf("listener name %q is already used by spec.listeners[%d]; listener names must be unique within a %s", name, first, owner)})
		} else {
			seen[name] = i
		}
		issues = appendPortIssue(issues, path+".port", int64(port))
		if protocol == "" {
			issues = append(issues, fieldIssue{path + ".protocol", "required: set HTTP, HTTPS, TLS, TCP or UDP"})
		}
	}
	return issues
}

func validateHTTPRoute(obj source.Object) []fieldIssue {
	r := obj.(*gatewayv1.HTTPRoute)
	return validateRouteRules("HTTPRoute", len(r.Spec.Hostnames), len(r.Spec.Rules), func(i int, path string) (int, []fieldIssue, []gatewayv1.BackendRef) {
		rule := &r.Spec.Rules[i]
		var issues []fieldIssue
		for j, m := range rule.Matches {
			issues = append(issues, validateRouteMatch(fmt.Sprintf("%s.matches[%d]", path, j), m)...)
		}
		refs := make([]gatewayv1.BackendRef, len(rule.BackendRefs))
		for j := range rule.BackendRefs {
			refs[j] = rule.BackendRefs[j].BackendRef
		}
		return len(rule.Matches), issues, refs
	})
}

// validateRouteRules checks what the HTTPRoute and GRPCRoute CRD schemas
// share: the number of hostnames, rules, matches per rule and backendRefs,
// and each backendRef's name and port. rule returns, for rule i at path, its
// number of matches, the issues of its matches and its backendRefs.
func validateRouteRules(kind string, hostnames, rules int, rule func(i int, path string) (int, []fieldIssue, []gatewayv1.BackendRef)) []fieldIssue {
	var issues []fieldIssue
	if hostnames > maxRouteHostnames {
		issues = append(issues, fieldIssue{"spec.hostnames", fmt.Sprintf("at most %d hostnames are allowed, found %d", maxRouteHostnames, hostnames)})
	}
	if rules > maxRouteRules {
		issues = append(issues, fieldIssue{"spec.rules", fmt.Sprintf("at most %d rules are allowed, found %d; split the route into several %ss", maxRouteRules, rules, kind)})
	}
	for i := 0; i < rules; i++ {
		path := fmt.Sprintf("spec.rules[%d]", i)
		matches, matchIssues, refs := rule(i, path)
		if matches > maxRuleMatches {
			issues = append(issues, fieldIssue{path + ".matches", fmt.Sprintf("at most %d matches are allowed, found %d", maxRuleMatches, matches)})
		}
		issues = append(issues, matchIssues...)
		if len(refs) > maxRuleBackendRefs {
			issues = append(issues, fieldIssue{path + ".backendRefs", fmt.Sprintf("at most %d backendRefs are allowed, found %d", maxRuleBackendRefs, len(refs))})
		}
		for j, b := range refs {
			bpath := fmt.Sprintf("%s.backendRefs[%d]", path, j)
			if b.Name == "" {
				issues = append(issues, fieldIssue{bpath + ".name", "required: name the Service (or other backend) to send traffic to"})
			}
			if b.Port != nil {
				issues = appendPortIssue(issues, bpath+".port", int64(*b.Port))
			}
		}
	}
	return issues
}

// validateRouteMatch checks path values and header/query names.
func validateRouteMatch(path string, m gatewayv1.HTTPRouteMatch) []fieldIssue {
	var issues []fieldIssue
	if p := m.Path; p != nil && p.Value != nil && p.Type != nil && *p.Type != gatewayv1.PathMatchRegularExpression {
		if !strings.HasPrefix(*p.Value, "/") {
			issues = append(issues, fieldIssue{path + ".path.value", fmt.Sprintf("path %q must start with \"/\"", *p.Value)})
		}
	}
	if n := len(m.Headers); n > maxHeaderMatches {
		issues = append(issues, fieldIssue{path + ".headers", fmt.Sprintf("at most %d header matches are allowed, found %d", maxHeaderMatches, n)})
	}
	for i, h := range m.Headers {
		if !isHTTPToken(string(h.Name)) {
			issues = append(issues, fieldIssue{fmt.Sprintf("%s.headers[%d].name", path, i), fmt.Sprintf("%q is not a valid HTTP header name: use letters, digits and !#$%%&'*+-.^_`|~ only", h.Name)})
		}
	}
	for i, q := range m.QueryParams {
		if q.Name == "" {
			issues = append(issues, fieldIssue{fmt.Sprintf("%s.queryParams[%d].name", path, i), "required: name the query parameter to match"})
		}
	}
	return issues
}

func validateReferenceGrant(obj source.Object) []fieldIssue {
	g := obj.(*gatewayv1.ReferenceGrant)
	var issues []fieldIssue
	if len(g.Spec.From) == 0 {
		issues = append(issues, fieldIssue{"spec.from", "required: list at least one namespace and kind allowed to refer"})
	}
	if len(g.Spec.To) == 0 {
		issues = append(issues, fieldIssue{"spec.to", "required: list at least one kind that may be referred to"})
	}
	return issues
}

func validateService(obj source.Object) []fieldIssue {
	svc := obj.(*corev1.Service)
	var issues []fieldIssue
	for i, p := range svc.Spec.Ports {
		path := fmt.Sprintf("spec.ports[%d]", i)
		issues = appendPortIssue(issues, path+".port", int64(p.Port))
		if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal != p.Port {
			issues = appendPortIssue(issues, path+".targetPort", int64(p.TargetPort.IntVal))
		}
	}
	return issues
}

func validateEndpointSlice(obj source.Object) []fieldIssue {
	es := obj.(*discoveryv1.EndpointSlice)
	var issues []fieldIssue
	if es.AddressType == "" {
		issues = append(issues, fieldIssue{"addressType", "required: set IPv4, IPv6 or FQDN"})
	}
	for i, p := range es.Ports {
		if p.Port != nil {
			issues = appendPortIssue(issues, fmt.Sprintf("ports[%d].port", i), int64(*p.Port))
		}
	}
	return issues
}

func validateStaticBackend(obj source.Object) []fieldIssue {
	sb := obj.(*v1alpha1.StaticBackend)
	var issues []fieldIssue
	if len(sb.Spec.Endpoints) == 0 {
		issues = append(issues, fieldIssue{"spec.endpoints", `required: list at least one "host:port" endpoint`})
	}
	for i, ep := range sb.Spec.Endpoints {
		path := fmt.Sprintf("spec.endpoints[%d]", i)
		host, port, err := net.SplitHostPort(ep)
		if err != nil || host == "" {
			issues = append(issues, fieldIssue{path, fmt.Sprintf("%q is not \"host:port\" (write IPv6 addresses as \"[::1]:8080\")", ep)})
			continue
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			n = -1
		}
		issues = appendPortIssue(issues, path, int64(n))
	}
	switch sb.Spec.Protocol {
	case "", "HTTP", "H2C", "WS":
	default:
		issues = append(issues, fieldIssue{"spec.protocol", fmt.Sprintf("unknown protocol %q: use HTTP, H2C or WS", sb.Spec.Protocol)})
	}
	return issues
}

// appendPortIssue adds an issue unless port is in 1..65535.
func appendPortIssue(issues []fieldIssue, path string, port int64) []fieldIssue {
	if port >= 1 && port <= 65535 {
		return issues
	}
	return append(issues, fieldIssue{path, fmt.Sprintf("port %d is out of range: use 1-65535", port)})
}

// isHTTPToken reports whether s is a non-empty RFC 9110 token, the syntax
// of header names.
func isHTTPToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validateTrafficPolicy checks what the CRD schema requires: at least one
// target, each with a kind and a name. CEL expressions are checked by the
// translator, which reports them in the policy's status.
func validateTrafficPolicy(obj source.Object) []fieldIssue {
	p := obj.(*v1alpha1.TrafficPolicy)
	var issues []fieldIssue
	if len(p.Spec.TargetRefs) == 0 {
		issues = append(issues, fieldIssue{"spec.targetRefs", "required: name at least one Gateway, ListenerSet or HTTPRoute"})
	}
	for i, r := range p.Spec.TargetRefs {
		if r.Kind == "" || r.Name == "" {
			issues = append(issues, fieldIssue{fmt.Sprintf("spec.targetRefs[%d]", i), "kind and name are required"})
		}
	}
	return issues
}
