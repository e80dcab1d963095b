package status

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"gatehouse.dev/gatehouse/internal/translate"
)

func routeStatus(msg string) translate.ObjectStatus {
	return translate.ObjectStatus{Kind: "HTTPRoute", Namespace: "ns", Name: "r", Route: &gwv1.RouteStatus{
		Parents: []gwv1.RouteParentStatus{{
			ParentRef: gwv1.ParentReference{Name: "gw"}, ControllerName: "gatehouse.dev/gateway-controller",
			Conditions: []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", Message: msg}},
		}}}}
}

func countStatusUpdates(c *fake.Clientset) int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

func waitIdle(t *testing.T, w *Writer) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for w.QueueLen() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
}

func TestWriterOnlyLeaderWritesAndSkipsUnchanged(t *testing.T) {
	client := fake.NewSimpleClientset(&gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "r"}})
	w := New(client, "gatehouse.dev/gateway-controller", slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, 2)

	w.Update(translate.StatusChange{Updated: []translate.ObjectStatus{routeStatus("one")}})
	time.Sleep(50 * time.Millisecond)
	if n := countStatusUpdates(client); n != 0 {
		t.Fatalf("standby wrote %d statuses", n)
	}
	w.SetLeader(true)
	waitIdle(t, w)
	if n := countStatusUpdates(client); n != 1 {
		t.Fatalf("leader wrote %d statuses, want 1", n)
	}
	// Same status again: the merged status equals the object's, no write.
	w.Update(translate.StatusChange{Updated: []translate.ObjectStatus{routeStatus("one")}})
	waitIdle(t, w)
	if n := countStatusUpdates(client); n != 1 {
		t.Fatalf("unchanged status was written again (%d writes)", n)
	}
	// A burst of changes to one object coalesces.
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		w.Update(translate.StatusChange{Updated: []translate.ObjectStatus{routeStatus(m)}})
	}
	waitIdle(t, w)
	if n := countStatusUpdates(client); n < 2 || n > 4 {
		t.Fatalf("burst of 5 changes gave %d total writes, want coalescing", n)
	}
	got, _ := client.GatewayV1().HTTPRoutes("ns").Get(ctx, "r", metav1.GetOptions{})
	if msg := got.Status.Parents[0].Conditions[0].Message; msg != "e" {
		t.Fatalf("final message %q, want the last one", msg)
	}
	// Removing our status clears our parent entry.
	w.Update(translate.StatusChange{Removed: []string{"HTTPRoute ns/r"}})
	waitIdle(t, w)
	got, _ = client.GatewayV1().HTTPRoutes("ns").Get(ctx, "r", metav1.GetOptions{})
	if len(got.Status.Parents) != 0 {
		t.Fatalf("our parent entry was not removed: %+v", got.Status.Parents)
	}
}
