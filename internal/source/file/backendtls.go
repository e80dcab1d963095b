package file

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/source"
)

// validateBackendTLSPolicy checks what the BackendTLSPolicy CRD schema
// rejects: 1-16 targetRefs, distinct targets, a precise validation.hostname,
// exactly one of caCertificateRefs and wellKnownCACertificates, and
// subjectAltNames whose value matches their type. Whether the references
// resolve is the translator's business (it reports it in status).
func validateBackendTLSPolicy(obj source.Object) []fieldIssue {
	p := obj.(*gatewayv1.BackendTLSPolicy)
	var issues []fieldIssue
	switch n := len(p.Spec.TargetRefs); {
	case n == 0:
		issues = append(issues, fieldIssue{"spec.targetRefs", "required: name the Service (and optionally its port by sectionName) the policy applies to"})
	case n > 16:
		issues = append(issues, fieldIssue{"spec.targetRefs", fmt.Sprintf("at most 16 targetRefs are allowed, found %d", n)})
	}
	seen := map[string]int{}
	for i, r := range p.Spec.TargetRefs {
		path := fmt.Sprintf("spec.targetRefs[%d]", i)
		if r.Kind == "" || r.Name == "" {
			issues = append(issues, fieldIssue{path, "kind and name are required"})
		}
		key := string(r.Group) + "/" + string(r.Kind) + "/" + string(r.Name) + "#" + string(deref(r.SectionName))
		if first, dup := seen[key]; dup {
			issues = append(issues, fieldIssue{path, fmt.Sprintf("same target as spec.targetRefs[%d]; give each reference to the same target a distinct sectionName", first)})
		}
		seen[key] = i
	}
	v := p.Spec.Validation
	if v.Hostname == "" {
		issues = append(issues, fieldIssue{"spec.validation.hostname", "required: the name sent as SNI and verified against the backend's certificate"})
	} else if errs := validation.IsDNS1123Subdomain(string(v.Hostname)); len(errs) > 0 {
		issues = append(issues, fieldIssue{"spec.validation.hostname", fmt.Sprintf("%q is not a precise hostname (no wildcards, no IP): %s", v.Hostname, strings.Join(errs, "; "))})
	}
	hasWellKnown := v.WellKnownCACertificates != nil && *v.WellKnownCACertificates != ""
	switch {
	case len(v.CACertificateRefs) > 0 && hasWellKnown:
		issues = append(issues, fieldIssue{"spec.validation", "set only one of caCertificateRefs and wellKnownCACertificates"})
	case len(v.CACertificateRefs) == 0 && !hasWellKnown:
		issues = append(issues, fieldIssue{"spec.validation", "set caCertificateRefs (a ConfigMap with key ca.crt) or wellKnownCACertificates: System"})
	case len(v.CACertificateRefs) > 8:
		issues = append(issues, fieldIssue{"spec.validation.caCertificateRefs", fmt.Sprintf("at most 8 references are allowed, found %d", len(v.CACertificateRefs))})
	}
	if len(v.SubjectAltNames) > 5 {
		issues = append(issues, fieldIssue{"spec.validation.subjectAltNames", fmt.Sprintf("at most 5 subjectAltNames are allowed, found %d", len(v.SubjectAltNames))})
	}
	for i, san := range v.SubjectAltNames {
		path := fmt.Sprintf("spec.validation.subjectAltNames[%d]", i)
		switch san.Type {
		case gatewayv1.HostnameSubjectAltNameType:
			if san.Hostname == "" || san.URI != "" {
				issues = append(issues, fieldIssue{path, "type Hostname needs hostname set and uri empty"})
			}
		case gatewayv1.URISubjectAltNameType:
			if san.URI == "" || san.Hostname != "" {
				issues = append(issues, fieldIssue{path, "type URI needs uri set and hostname empty"})
			}
		default:
			issues = append(issues, fieldIssue{path + ".type", fmt.Sprintf("unknown type %q: use Hostname or URI", san.Type)})
		}
	}
	return issues
}
