package status

import (
	"context"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/internal/translate"
)

var trafficPolicies = schema.GroupVersionResource{Group: v1alpha1.GroupName, Version: "v1alpha1", Resource: "trafficpolicies"}

// writeTrafficPolicy updates our status.ancestors entries of a TrafficPolicy
// (GEP-713), leaving other controllers' entries in place.
func (w *Writer) writeTrafficPolicy(ctx context.Context, ns, name string, st translate.ObjectStatus, present bool) (bool, error) {
	if w.Dynamic == nil {
		return false, nil
	}
	res := w.Dynamic.Resource(trafficPolicies).Namespace(ns)
	u, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	var cur v1alpha1.TrafficPolicy
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cur); err != nil {
		return false, err
	}
	var desired []gwv1.PolicyAncestorStatus
	if present && st.TrafficPolicy != nil {
		desired = st.TrafficPolicy.Ancestors
	}
	ancestors := mergeAncestors(cur.Status.Ancestors, desired, gwv1.GatewayController(w.controller), metav1.NewTime(w.now()))
	if reflect.DeepEqual(ancestors, cur.Status.Ancestors) {
		return false, nil
	}
	cur.Status.Ancestors = ancestors
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&cur)
	if err != nil {
		return false, err
	}
	_, err = res.UpdateStatus(ctx, &unstructured.Unstructured{Object: obj}, metav1.UpdateOptions{})
	return err == nil, err
}

// mergeAncestors is mergeParents for policy ancestors.
func mergeAncestors(existing, desired []gwv1.PolicyAncestorStatus, controller gwv1.GatewayController, now metav1.Time) []gwv1.PolicyAncestorStatus {
	toParents := func(in []gwv1.PolicyAncestorStatus) []gwv1.RouteParentStatus {
		out := make([]gwv1.RouteParentStatus, len(in))
		for i, a := range in {
			out[i] = gwv1.RouteParentStatus{ParentRef: a.AncestorRef, ControllerName: a.ControllerName, Conditions: a.Conditions}
		}
		return out
	}
	merged := mergeParents(toParents(existing), toParents(desired), controller, now)
	if merged == nil {
		return nil
	}
	out := make([]gwv1.PolicyAncestorStatus, len(merged))
	for i, p := range merged {
		out[i] = gwv1.PolicyAncestorStatus{AncestorRef: p.ParentRef, ControllerName: p.ControllerName, Conditions: p.Conditions}
	}
	return out
}
