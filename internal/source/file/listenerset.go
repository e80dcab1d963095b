package file

import (
	"fmt"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/source"
)

// defaultListenerSet applies the CRD defaults of a ListenerSet: the parent
// kind and group, and per listener what a Gateway listener gets.
func defaultListenerSet(obj source.Object) {
	ls := obj.(*gatewayv1.ListenerSet)
	setDefault(&ls.Spec.ParentRef.Group, gatewayv1.GroupName)
	setDefault(&ls.Spec.ParentRef.Kind, "Gateway")
	for i := range ls.Spec.Listeners {
		l := &ls.Spec.Listeners[i]
		if l.AllowedRoutes == nil {
			l.AllowedRoutes = &gatewayv1.AllowedRoutes{}
		}
		if l.AllowedRoutes.Namespaces == nil {
			l.AllowedRoutes.Namespaces = &gatewayv1.RouteNamespaces{}
		}
		if l.AllowedRoutes.Namespaces.From == nil {
			l.AllowedRoutes.Namespaces.From = ptr(gatewayv1.NamespacesFromSame)
		}
		if l.TLS != nil && l.TLS.Mode == nil {
			l.TLS.Mode = ptr(gatewayv1.TLSModeTerminate)
		}
		if l.TLS != nil {
			for j := range l.TLS.CertificateRefs {
				ref := &l.TLS.CertificateRefs[j]
				setDefault(&ref.Group, "")
				setDefault(&ref.Kind, "Secret")
			}
		}
	}
}

// validateListenerSet rejects what the ListenerSet CRD schema would.
func validateListenerSet(obj source.Object) []fieldIssue {
	ls := obj.(*gatewayv1.ListenerSet)
	var issues []fieldIssue
	if ls.Spec.ParentRef.Name == "" {
		issues = append(issues, fieldIssue{"spec.parentRef.name", "required: name the Gateway these listeners attach to"})
	}
	if len(ls.Spec.Listeners) == 0 {
		issues = append(issues, fieldIssue{"spec.listeners", "required: declare at least one listener"})
	}
	if len(ls.Spec.Listeners) > maxListeners {
		issues = append(issues, fieldIssue{"spec.listeners", fmt.Sprintf("at most %d listeners are allowed, found %d; split them across ListenerSets", maxListeners, len(ls.Spec.Listeners))})
	}
	seen := map[gatewayv1.SectionName]int{}
	for i, l := range ls.Spec.Listeners {
		path := fmt.Sprintf("spec.listeners[%d]", i)
		if l.Name == "" {
			issues = append(issues, fieldIssue{path + ".name", "required: give each listener a unique name"})
		} else if first, dup := seen[l.Name]; dup {
			issues = append(issues, fieldIssue{path + ".name", fmt.Sprintf("listener name %q is already used by spec.listeners[%d]; listener names must be unique within a ListenerSet", l.Name, first)})
		} else {
			seen[l.Name] = i
		}
		issues = appendPortIssue(issues, path+".port", int64(l.Port))
		if l.Protocol == "" {
			issues = append(issues, fieldIssue{path + ".protocol", "required: set HTTP, HTTPS, TLS, TCP or UDP"})
		}
	}
	return issues
}
