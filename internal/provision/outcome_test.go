package provision

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestApplyRecordsOutcomes: created on the first apply, unchanged on a
// repeat, updated after a change, error for an object it may not take over.
func TestApplyRecordsOutcomes(t *testing.T) {
	ctx := context.Background()
	var got []string
	rec := func(kind string, o Outcome) { got = append(got, kind+" "+string(o)) }
	cs := fake.NewClientset()
	apply := func(r Resources) error { got = nil; return ApplyRecorded(ctx, cs, r, rec) }

	if err := apply(Desired(gateway("web", 80), nil, testOptions)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ServiceAccount created", "Service created", "Deployment created"}; !slices.Equal(got, want) {
		t.Errorf("first apply: %q, want %q", got, want)
	}
	if err := apply(Desired(gateway("web", 80), nil, testOptions)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ServiceAccount unchanged", "Service unchanged", "Deployment unchanged"}; !slices.Equal(got, want) {
		t.Errorf("repeat: %q, want %q", got, want)
	}
	if err := apply(Desired(gateway("web", 80, 443), nil, testOptions)); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, "Service updated") {
		t.Errorf("new port: %q, want the Service updated", got)
	}

	theirs := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web-gatehouse", Namespace: "apps"}}
	cs = fake.NewClientset(theirs)
	if err := apply(Desired(gateway("web", 80), nil, testOptions)); err == nil {
		t.Fatal("took over a foreign Service")
	}
	if want := []string{"ServiceAccount created", "Service error"}; !slices.Equal(got, want) {
		t.Errorf("foreign Service: %q, want %q", got, want)
	}
}
