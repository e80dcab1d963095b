package status

import (
	"context"
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/translate"
)

// managedTypes are the condition types Gatehouse sets; a managed type that
// translation no longer reports is removed, any other type (set by someone
// else) is kept as it is.
var managedTypes = map[string]bool{"Accepted": true, "Programmed": true, "ResolvedRefs": true,
	"Conflicted": true, "PartiallyInvalid": true}

// mergeConditions returns existing with every desired condition set: a
// condition whose status is unchanged keeps its lastTransitionTime; managed
// types not desired are dropped; foreign types are kept.
func mergeConditions(existing, desired []metav1.Condition, now metav1.Time) []metav1.Condition {
	want := map[string]bool{}
	for _, d := range desired {
		want[d.Type] = true
	}
	out := make([]metav1.Condition, 0, len(existing)+len(desired))
	for _, c := range existing {
		if !managedTypes[c.Type] || want[c.Type] {
			out = append(out, c)
		}
	}
	for _, d := range desired {
		d.LastTransitionTime = now
		if cur := meta.FindStatusCondition(out, d.Type); cur != nil && cur.Status == d.Status {
			d.LastTransitionTime = cur.LastTransitionTime
		}
		meta.SetStatusCondition(&out, d)
	}
	return out
}

func (w *Writer) writeClass(ctx context.Context, name string, st translate.ObjectStatus, present bool) (bool, error) {
	if !present || st.GatewayClass == nil {
		return false, nil
	}
	gc, err := w.client.GatewayV1().GatewayClasses().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	next := gc.Status.DeepCopy()
	next.Conditions = mergeConditions(gc.Status.Conditions, st.GatewayClass.Conditions, metav1.NewTime(w.now()))
	next.SupportedFeatures = st.GatewayClass.SupportedFeatures
	if reflect.DeepEqual(*next, gc.Status) {
		return false, nil
	}
	gc.Status = *next
	_, err = w.client.GatewayV1().GatewayClasses().UpdateStatus(ctx, gc, metav1.UpdateOptions{})
	return err == nil, err
}

func (w *Writer) writeGateway(ctx context.Context, ns, name string, st translate.ObjectStatus, present bool) (bool, error) {
	if !present || st.Gateway == nil {
		return false, nil
	}
	gw, err := w.client.GatewayV1().Gateways(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	now := metav1.NewTime(w.now())
	next := gw.Status.DeepCopy()
	next.Conditions = mergeConditions(gw.Status.Conditions, st.Gateway.Conditions, now)
	next.Addresses = st.Gateway.Addresses
	next.AttachedListenerSets = st.Gateway.AttachedListenerSets
	next.Listeners = nil
	for _, l := range st.Gateway.Listeners {
		var existing []metav1.Condition
		for _, cur := range gw.Status.Listeners {
			if cur.Name == l.Name {
				existing = cur.Conditions
			}
		}
		l.Conditions = mergeConditions(existing, l.Conditions, now)
		next.Listeners = append(next.Listeners, l)
	}
	if reflect.DeepEqual(*next, gw.Status) {
		return false, nil
	}
	gw.Status = *next
	_, err = w.client.GatewayV1().Gateways(ns).UpdateStatus(ctx, gw, metav1.UpdateOptions{})
	return err == nil, err
}

// routeAccess reads and writes one route kind's status.parents through the
// typed clientset.
type routeAccess struct {
	get    func(ctx context.Context, ns, name string) (obj any, status *gwv1.RouteStatus, err error)
	update func(ctx context.Context, ns string, obj any) error
}

// routeKinds are the route kinds whose status the writer maintains.
func (w *Writer) routeKinds() map[string]routeAccess {
	c := w.client.GatewayV1()
	return map[string]routeAccess{
		"HTTPRoute": {
			get: func(ctx context.Context, ns, name string) (any, *gwv1.RouteStatus, error) {
				r, err := c.HTTPRoutes(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return nil, nil, err
				}
				return r, &r.Status.RouteStatus, nil
			},
			update: func(ctx context.Context, ns string, obj any) error {
				_, err := c.HTTPRoutes(ns).UpdateStatus(ctx, obj.(*gwv1.HTTPRoute), metav1.UpdateOptions{})
				return err
			},
		},
		"GRPCRoute": {
			get: func(ctx context.Context, ns, name string) (any, *gwv1.RouteStatus, error) {
				r, err := c.GRPCRoutes(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return nil, nil, err
				}
				return r, &r.Status.RouteStatus, nil
			},
			update: func(ctx context.Context, ns string, obj any) error {
				_, err := c.GRPCRoutes(ns).UpdateStatus(ctx, obj.(*gwv1.GRPCRoute), metav1.UpdateOptions{})
				return err
			},
		},
		"TLSRoute": {
			get: func(ctx context.Context, ns, name string) (any, *gwv1.RouteStatus, error) {
				r, err := c.TLSRoutes(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return nil, nil, err
				}
				return r, &r.Status.RouteStatus, nil
			},
			update: func(ctx context.Context, ns string, obj any) error {
				_, err := c.TLSRoutes(ns).UpdateStatus(ctx, obj.(*gwv1.TLSRoute), metav1.UpdateOptions{})
				return err
			},
		},
		"TCPRoute": {
			get: func(ctx context.Context, ns, name string) (any, *gwv1.RouteStatus, error) {
				r, err := c.TCPRoutes(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return nil, nil, err
				}
				return r, &r.Status.RouteStatus, nil
			},
			update: func(ctx context.Context, ns string, obj any) error {
				_, err := c.TCPRoutes(ns).UpdateStatus(ctx, obj.(*gwv1.TCPRoute), metav1.UpdateOptions{})
				return err
			},
		},
	}
}

// writeRoute merges our status.parents entries into a route of any kind.
func (w *Writer) writeRoute(ctx context.Context, acc routeAccess, ns, name string, st translate.ObjectStatus, present bool) (bool, error) {
	obj, cur, err := acc.get(ctx, ns, name)
	if err != nil {
		return false, err
	}
	var desired []gwv1.RouteParentStatus
	if present && st.Route != nil {
		desired = st.Route.Parents
	}
	parents := mergeParents(cur.Parents, desired, gwv1.GatewayController(w.controller), metav1.NewTime(w.now()))
	if reflect.DeepEqual(parents, cur.Parents) {
		return false, nil
	}
	cur.Parents = parents
	err = acc.update(ctx, ns, obj)
	return err == nil, err
}

// mergeParents updates our controller's entries in place, drops ours that are
// no longer desired, appends new ones, and leaves every other controller's
// entry untouched and in its position.
func mergeParents(existing, desired []gwv1.RouteParentStatus, controller gwv1.GatewayController, now metav1.Time) []gwv1.RouteParentStatus {
	used := make([]bool, len(desired))
	var out []gwv1.RouteParentStatus
	for _, cur := range existing {
		if cur.ControllerName != controller {
			out = append(out, cur)
			continue
		}
		for i, d := range desired {
			if !used[i] && reflect.DeepEqual(d.ParentRef, cur.ParentRef) {
				used[i] = true
				upd := cur.DeepCopy()
				upd.Conditions = mergeConditions(cur.Conditions, d.Conditions, now)
				out = append(out, *upd)
				break
			}
		}
	}
	for i, d := range desired {
		if !used[i] {
			d.Conditions = mergeConditions(nil, d.Conditions, now)
			out = append(out, d)
		}
	}
	if out == nil && existing != nil {
		out = []gwv1.RouteParentStatus{}
	}
	return out
}
