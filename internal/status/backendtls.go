package status

import (
	"context"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/translate"
)

// writeBackendTLSPolicy updates our status.ancestors entries of a
// BackendTLSPolicy (GEP-713), leaving other controllers' entries in place.
// A policy that is gone needs nothing.
func (w *Writer) writeBackendTLSPolicy(ctx context.Context, ns, name string, st translate.ObjectStatus, present bool) (bool, error) {
	c := w.client.GatewayV1().BackendTLSPolicies(ns)
	cur, err := c.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var desired []gwv1.PolicyAncestorStatus
	if present && st.BackendTLSPolicy != nil {
		desired = st.BackendTLSPolicy.Ancestors
	}
	ancestors := mergeAncestors(cur.Status.Ancestors, desired, gwv1.GatewayController(w.controller), metav1.NewTime(w.now()))
	if reflect.DeepEqual(ancestors, cur.Status.Ancestors) {
		return false, nil
	}
	cur = cur.DeepCopy()
	cur.Status.Ancestors = ancestors
	_, err = c.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err == nil, err
}
