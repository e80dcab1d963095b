package status

import (
	"context"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gatehouse.dev/gatehouse/internal/translate"
)

// writeListenerSet replaces a ListenerSet's status (the whole status belongs
// to the controller of its parent Gateway), keeping condition transition
// times that did not change.
func (w *Writer) writeListenerSet(ctx context.Context, ns, name string, st translate.ObjectStatus, present bool) (bool, error) {
	if !present || st.ListenerSet == nil {
		return false, nil
	}
	ls, err := w.client.GatewayV1().ListenerSets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	now := metav1.NewTime(w.now())
	next := ls.Status.DeepCopy()
	next.Conditions = mergeConditions(ls.Status.Conditions, st.ListenerSet.Conditions, now)
	next.Listeners = nil
	for _, l := range st.ListenerSet.Listeners {
		var existing []metav1.Condition
		for _, cur := range ls.Status.Listeners {
			if cur.Name == l.Name {
				existing = cur.Conditions
			}
		}
		l.Conditions = mergeConditions(existing, l.Conditions, now)
		next.Listeners = append(next.Listeners, l)
	}
	if reflect.DeepEqual(*next, ls.Status) {
		return false, nil
	}
	ls.Status = *next
	_, err = w.client.GatewayV1().ListenerSets(ns).UpdateStatus(ctx, ls, metav1.UpdateOptions{})
	return err == nil, err
}
