package status

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func condition(typ, status, reason string, t time.Time) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionStatus(status), Reason: reason, LastTransitionTime: metav1.NewTime(t)}
}

func TestMergeConditionsKeepsTimesAndForeignTypes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := metav1.NewTime(t0.Add(time.Hour))
	existing := []metav1.Condition{
		condition("Accepted", "True", "Accepted", t0),
		condition("PartiallyInvalid", "True", "UnsupportedValue", t0),
		condition("example.com/Custom", "True", "Mine", t0),
	}
	desired := []metav1.Condition{
		{Type: "Accepted", Status: "True", Reason: "Accepted", Message: "new message"},
		{Type: "ResolvedRefs", Status: "False", Reason: "BackendNotFound"},
	}
	got := mergeConditions(existing, desired, now)
	byType := map[string]metav1.Condition{}
	for _, c := range got {
		byType[c.Type] = c
	}
	if c := byType["Accepted"]; !c.LastTransitionTime.Time.Equal(t0) || c.Message != "new message" {
		t.Errorf("unchanged status must keep its time and take the new message: %+v", c)
	}
	if c := byType["ResolvedRefs"]; !c.LastTransitionTime.Equal(&now) {
		t.Errorf("new condition must get the current time: %+v", c)
	}
	if _, ok := byType["PartiallyInvalid"]; ok {
		t.Errorf("a managed condition no longer reported must be removed")
	}
	if _, ok := byType["example.com/Custom"]; !ok {
		t.Errorf("a foreign condition must be kept")
	}
}

func TestMergeParentsTouchesOnlyOurEntries(t *testing.T) {
	now := metav1.Now()
	ours := gwv1.GatewayController("gatehouse.dev/gateway-controller")
	ref := func(name string) gwv1.ParentReference { return gwv1.ParentReference{Name: gwv1.ObjectName(name)} }
	foreign := gwv1.RouteParentStatus{ParentRef: ref("other-gw"), ControllerName: "example.com/other",
		Conditions: []metav1.Condition{condition("Accepted", "False", "Whatever", time.Unix(1, 0))}}
	existing := []gwv1.RouteParentStatus{
		{ParentRef: ref("gone"), ControllerName: ours},
		foreign,
		{ParentRef: ref("gw"), ControllerName: ours, Conditions: []metav1.Condition{condition("Accepted", "True", "Accepted", time.Unix(5, 0))}},
	}
	desired := []gwv1.RouteParentStatus{
		{ParentRef: ref("gw"), ControllerName: ours, Conditions: []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted"}}},
		{ParentRef: ref("new"), ControllerName: ours, Conditions: []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted"}}},
	}
	got := mergeParents(existing, desired, ours, now)
	if len(got) != 3 {
		t.Fatalf("got %d parents, want foreign + gw + new: %+v", len(got), got)
	}
	if got[0].ControllerName != "example.com/other" || got[0].Conditions[0].Reason != "Whatever" {
		t.Errorf("foreign entry changed or moved: %+v", got[0])
	}
	if got[1].ParentRef.Name != "gw" || got[1].Conditions[0].LastTransitionTime.Unix() != 5 {
		t.Errorf("our existing entry should keep its place and time: %+v", got[1])
	}
	if got[2].ParentRef.Name != "new" {
		t.Errorf("new entry should be appended: %+v", got[2])
	}
	if cleared := mergeParents(existing, nil, ours, now); len(cleared) != 1 || cleared[0].ControllerName != "example.com/other" {
		t.Errorf("removing our status must leave only the foreign entry: %+v", cleared)
	}
}
