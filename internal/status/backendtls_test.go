package status

import (
	"context"
	"io"
	"log/slog"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"gatehouse.dev/gatehouse/internal/translate"
)

func TestWriteBackendTLSPolicyKeepsForeignAncestors(t *testing.T) {
	gw := func(name string) gwv1.ParentReference {
		return gwv1.ParentReference{Name: gwv1.ObjectName(name)}
	}
	foreign := gwv1.PolicyAncestorStatus{AncestorRef: gw("theirs"), ControllerName: "example.com/other",
		Conditions: []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted"}}}
	client := fake.NewSimpleClientset(&gwv1.BackendTLSPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"},
		Status:     gwv1.PolicyStatus{Ancestors: []gwv1.PolicyAncestorStatus{foreign}},
	})
	w := New(client, "gatehouse.dev/gateway-controller", slog.New(slog.NewTextHandler(io.Discard, nil)))
	ours := translate.ObjectStatus{Kind: "BackendTLSPolicy", Namespace: "ns", Name: "p", BackendTLSPolicy: &gwv1.PolicyStatus{
		Ancestors: []gwv1.PolicyAncestorStatus{{AncestorRef: gw("web"), ControllerName: "gatehouse.dev/gateway-controller",
			Conditions: []metav1.Condition{{Type: "Accepted", Status: "False", Reason: "NoValidCACertificate"}}}}}}
	ctx := context.Background()
	if err := w.write(ctx, ours.Key(), ours, true); err != nil {
		t.Fatal(err)
	}
	got, err := client.GatewayV1().BackendTLSPolicies("ns").Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Ancestors) != 2 || got.Status.Ancestors[0].ControllerName != "example.com/other" ||
		got.Status.Ancestors[1].Conditions[0].Reason != "NoValidCACertificate" {
		t.Fatalf("ancestors = %+v, want the foreign entry then ours", got.Status.Ancestors)
	}
	before := countStatusUpdates(client)
	if err := w.write(ctx, ours.Key(), ours, true); err != nil {
		t.Fatal(err)
	}
	if n := countStatusUpdates(client); n != before {
		t.Fatalf("unchanged status was written again (%d updates, want %d)", n, before)
	}
	if err := w.write(ctx, ours.Key(), ours, false); err != nil {
		t.Fatal(err)
	}
	got, _ = client.GatewayV1().BackendTLSPolicies("ns").Get(ctx, "p", metav1.GetOptions{})
	if len(got.Status.Ancestors) != 1 || got.Status.Ancestors[0].ControllerName != "example.com/other" {
		t.Fatalf("after removal ancestors = %+v, want only the foreign entry", got.Status.Ancestors)
	}
	if err := w.write(ctx, "BackendTLSPolicy ns/gone", ours, true); err != nil {
		t.Fatalf("a deleted policy must not be an error: %v", err)
	}
}
