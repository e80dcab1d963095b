package file

import (
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
		defaultListener(&l.AllowedRoutes, l.TLS)
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
	return append(issues, validateListeners("ListenerSet", len(ls.Spec.Listeners), func(i int) (gatewayv1.SectionName, gatewayv1.PortNumber, gatewayv1.ProtocolType) {
		l := &ls.Spec.Listeners[i]
		return l.Name, l.Port, l.Protocol
	})...)
}
