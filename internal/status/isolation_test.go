package status

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"gatehouse.dev/gatehouse/internal/source"
	"gatehouse.dev/gatehouse/internal/translate"
)

// TestOtherControllersStatusIsNeverWritten runs the translator into the
// writer over a cluster shared with another controller: its GatewayClass
// and Gateway (with the status it wrote), and an HTTPRoute attached to both
// controllers' Gateways whose status already holds the other controller's
// parent entry. Our writer must never update the other controller's class
// or Gateway, must keep its route parent entry byte for byte while adding
// and later removing ours.
func TestOtherControllersStatusIsNeverWritten(t *testing.T) {
	const ours, theirs = "gatehouse.dev/gateway-controller", "example.com/other"
	foreignCond := []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", Message: "by the other controller",
		LastTransitionTime: metav1.Unix(1000, 0)}}
	objs := []runtime.Object{
		&gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "gatehouse"}, Spec: gwv1.GatewayClassSpec{ControllerName: ours}},
		&gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Spec: gwv1.GatewayClassSpec{ControllerName: theirs},
			Status: gwv1.GatewayClassStatus{Conditions: foreignCond}},
		&gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gw"}, Spec: gwv1.GatewaySpec{GatewayClassName: "gatehouse",
			Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}}},
		&gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "foreign"}, Spec: gwv1.GatewaySpec{GatewayClassName: "other",
			Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}},
			Status: gwv1.GatewayStatus{Conditions: foreignCond}},
	}
	foreignParent := gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "foreign"}, ControllerName: theirs, Conditions: foreignCond}
	route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "r"},
		Spec:   gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}, {Name: "foreign"}}}},
		Status: gwv1.HTTPRouteStatus{RouteStatus: gwv1.RouteStatus{Parents: []gwv1.RouteParentStatus{foreignParent}}}}
	// The API server's copies, apart from the translator's. Gateways are
	// created through the typed client: the fake tracker guesses the wrong
	// resource for Gateway objects handed to NewSimpleClientset.
	client := fake.NewSimpleClientset()
	for _, o := range append(objs, route) {
		var err error
		switch v := o.DeepCopyObject().(type) {
		case *gwv1.GatewayClass:
			_, err = client.GatewayV1().GatewayClasses().Create(context.Background(), v, metav1.CreateOptions{})
		case *gwv1.Gateway:
			_, err = client.GatewayV1().Gateways(v.Namespace).Create(context.Background(), v, metav1.CreateOptions{})
		case *gwv1.HTTPRoute:
			_, err = client.GatewayV1().HTTPRoutes(v.Namespace).Create(context.Background(), v, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	w := New(client, ours, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.SetLeader(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, 2)
	tr := translate.New(ours)
	tr.OnStatus(w.Update)
	var events []source.Event
	for _, o := range append(objs, route) {
		m := o.(metav1.Object)
		kind := reflect.TypeOf(o).Elem().Name()
		events = append(events, source.Event{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName(), Object: o.(source.Object)})
	}
	tr.Apply(events)
	waitIdle(t, w)

	checkForeign := func(when string) {
		t.Helper()
		for _, a := range client.Actions() {
			if a.GetVerb() != "update" {
				continue
			}
			name := a.(interface{ GetObject() runtime.Object }).GetObject().(metav1.Object).GetName()
			if name == "other" || name == "foreign" {
				t.Fatalf("%s: the writer updated the other controller's %s %q", when, a.GetResource().Resource, name)
			}
		}
		got, err := client.GatewayV1().HTTPRoutes("ns").Get(ctx, "r", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range got.Status.Parents {
			if p.ControllerName == theirs {
				found = true
				if !reflect.DeepEqual(p, foreignParent) {
					t.Fatalf("%s: the other controller's parent entry changed:\n got %+v\nwant %+v", when, p, foreignParent)
				}
			}
		}
		if !found {
			t.Fatalf("%s: the other controller's parent entry is gone: %+v", when, got.Status.Parents)
		}
	}
	checkForeign("after our first writes")
	got, _ := client.GatewayV1().HTTPRoutes("ns").Get(ctx, "r", metav1.GetOptions{})
	if len(got.Status.Parents) != 2 {
		t.Fatalf("route parents %+v, want ours added next to theirs", got.Status.Parents)
	}
	gw, _ := client.GatewayV1().Gateways("ns").Get(ctx, "gw", metav1.GetOptions{})
	if len(gw.Status.Conditions) == 0 {
		t.Fatalf("our own Gateway got no status: the writer did not run: %+v; actions %v", gw.Status, client.Actions())
	}

	// Our Gateway goes away: our route entry is removed, theirs stays.
	tr.Apply([]source.Event{{Kind: "Gateway", Namespace: "ns", Name: "gw"}})
	waitIdle(t, w)
	checkForeign("after our Gateway was deleted")
	got, _ = client.GatewayV1().HTTPRoutes("ns").Get(ctx, "r", metav1.GetOptions{})
	if len(got.Status.Parents) != 1 {
		t.Fatalf("route parents %+v, want only theirs", got.Status.Parents)
	}
}
