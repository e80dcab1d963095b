package translate

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
)

// ObjectStatus is the status translation computed for one object. Exactly one
// of the status fields is set, matching Kind.
type ObjectStatus struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`

	GatewayClass *gwv1.GatewayClassStatus `json:"gatewayClassStatus,omitempty"`
	Gateway      *gwv1.GatewayStatus      `json:"gatewayStatus,omitempty"`
	ListenerSet  *gwv1.ListenerSetStatus  `json:"listenerSetStatus,omitempty"`
	// Route is the status of any route kind (HTTPRoute, GRPCRoute, TLSRoute,
	// TCPRoute; Kind says which): only the status.parents entries of our
	// controller.
	Route *gwv1.RouteStatus `json:"routeStatus,omitempty"`
	// TrafficPolicy holds only the status.ancestors entries of our controller.
	TrafficPolicy *v1alpha1.TrafficPolicyStatus `json:"trafficPolicyStatus,omitempty"`
	// BackendTLSPolicy holds only the status.ancestors entries of our
	// controller.
	BackendTLSPolicy *gwv1.PolicyStatus `json:"backendTLSPolicyStatus,omitempty"`
}

// Key returns "Kind namespace/name".
func (s ObjectStatus) Key() string {
	if s.Namespace == "" {
		return s.Kind + " " + s.Name
	}
	return s.Kind + " " + s.Namespace + "/" + s.Name
}

func (s ObjectStatus) less(o ObjectStatus) bool {
	if s.Kind != o.Kind {
		return statusKindOrder[s.Kind] < statusKindOrder[o.Kind]
	}
	if s.Namespace != o.Namespace {
		return s.Namespace < o.Namespace
	}
	return s.Name < o.Name
}

var statusKindOrder = map[string]int{"GatewayClass": 0, "Gateway": 1, "ListenerSet": 2,
	"HTTPRoute": 3, "GRPCRoute": 4, "TLSRoute": 5, "TCPRoute": 6, "TrafficPolicy": 7, "BackendTLSPolicy": 8}

// Rejected reports whether any part of the object was not accepted or has
// references that did not resolve.
func (s ObjectStatus) Rejected() bool {
	var conds [][]metav1.Condition
	switch {
	case s.GatewayClass != nil:
		conds = append(conds, s.GatewayClass.Conditions)
	case s.Gateway != nil:
		conds = append(conds, s.Gateway.Conditions)
		for _, l := range s.Gateway.Listeners {
			conds = append(conds, l.Conditions)
		}
	case s.ListenerSet != nil:
		conds = append(conds, s.ListenerSet.Conditions)
		for _, l := range s.ListenerSet.Listeners {
			conds = append(conds, l.Conditions)
		}
	case s.Route != nil:
		for _, p := range s.Route.Parents {
			conds = append(conds, p.Conditions)
		}
	case s.TrafficPolicy != nil:
		for _, a := range s.TrafficPolicy.Ancestors {
			conds = append(conds, a.Conditions)
		}
	case s.BackendTLSPolicy != nil:
		for _, a := range s.BackendTLSPolicy.Ancestors {
			conds = append(conds, a.Conditions)
		}
	}
	for _, list := range conds {
		for _, c := range list {
			bad := (c.Type == "Accepted" || c.Type == "ResolvedRefs" || c.Type == "Programmed") && c.Status == metav1.ConditionFalse
			bad = bad || (c.Type == "Conflicted" || c.Type == "PartiallyInvalid") && c.Status == metav1.ConditionTrue
			if bad {
				return true
			}
		}
	}
	return false
}

// cond builds a condition. LastTransitionTime is left zero: translation is
// pure; whoever writes status sets the time when the condition changes.
func cond[T ~string, R ~string](typ T, ok bool, reason R, msg string, gen int64) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	return metav1.Condition{Type: string(typ), Status: st, Reason: string(reason), Message: msg, ObservedGeneration: gen}
}
