package provision

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
)

// writes lists the write actions since the last ClearActions as
// "verb resource name", e.g. "patch services web-gatehouse".
func writes(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		if a.GetVerb() == "get" || a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		name := ""
		if p, ok := a.(k8stesting.PatchAction); ok {
			name = p.GetName()
			if p.GetPatchType() != types.ApplyPatchType {
				name += " (not server-side apply)"
			}
		}
		out = append(out, fmt.Sprintf("%s %s %s", a.GetVerb(), a.GetResource().Resource, name))
	}
	return out
}

func mustApply(t *testing.T, cs *fake.Clientset, r Resources) {
	t.Helper()
	if err := Apply(context.Background(), cs, r); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func TestApplyCreatesThenSkipsUnchanged(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	gw := withInfra(gateway("web", 80, 443), map[gwv1.LabelKey]gwv1.LabelValue{"team": "payments"}, nil)
	params := &v1alpha1.GatewayParameters{Spec: v1alpha1.GatewayParametersSpec{
		Deployment: &v1alpha1.DeploymentParameters{Resources: &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resourceQuantity(t, "0.5")},
		}},
	}}
	r := Desired(gw, params, testOptions)
	mustApply(t, cs, r)

	want := []string{"patch serviceaccounts web-gatehouse", "patch services web-gatehouse", "patch deployments web-gatehouse"}
	if got := writes(cs); !slices.Equal(got, want) {
		t.Fatalf("first Apply wrote %q, want %q", got, want)
	}
	sa, err := cs.CoreV1().ServiceAccounts("apps").Get(ctx, "web-gatehouse", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sa.Labels["team"] != "payments" || len(sa.OwnerReferences) != 1 || sa.OwnerReferences[0].UID != "uid-web" {
		t.Errorf("ServiceAccount metadata = %+v", sa.ObjectMeta)
	}
	svc, err := cs.CoreV1().Services("apps").Get(ctx, "web-gatehouse", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(svc.Spec, r.Service.Spec) {
		t.Errorf("stored Service spec = %+v, want %+v", svc.Spec, r.Service.Spec)
	}
	dep, err := cs.AppsV1().Deployments("apps").Get(ctx, "web-gatehouse", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(dep.Spec, r.Deployment.Spec) {
		t.Errorf("stored Deployment spec differs from the desired one:\n got %+v\nwant %+v", dep.Spec, r.Deployment.Spec)
	}
	if len(dep.ManagedFields) != 1 || dep.ManagedFields[0].Manager != FieldManager || dep.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Errorf("managedFields = %+v, want one Apply entry of %q", dep.ManagedFields, FieldManager)
	}

	// A resync with nothing changed reads but does not write.
	cs.ClearActions()
	mustApply(t, cs, Desired(gw, params.DeepCopy(), testOptions))
	if got := writes(cs); len(got) != 0 {
		t.Errorf("second Apply of the same Gateway wrote %q, want no writes", got)
	}
	if n := len(cs.Actions()); n != 3 {
		t.Errorf("second Apply made %d calls, want 3 gets", n)
	}
}

func TestApplyUpdatesOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	mustApply(t, cs, Desired(gateway("web", 80, 443), nil, testOptions))

	// Dropping listener 443 and adding 8443 changes the Service and the
	// Deployment (container ports), not the ServiceAccount.
	cs.ClearActions()
	mustApply(t, cs, Desired(gateway("web", 80, 8443), nil, testOptions))
	want := []string{"patch services web-gatehouse", "patch deployments web-gatehouse"}
	if got := writes(cs); !slices.Equal(got, want) {
		t.Errorf("Apply after a port change wrote %q, want %q", got, want)
	}
	svc, err := cs.CoreV1().Services("apps").Get(ctx, "web-gatehouse", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ports []int32
	for _, p := range svc.Spec.Ports {
		ports = append(ports, p.Port)
	}
	if !slices.Equal(ports, []int32{80, 8443}) {
		t.Errorf("Service ports = %v, want [80 8443] (the dropped port removed)", ports)
	}
}

func TestApplyKeepsOthersFieldsAndRestoresOurs(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	r := Desired(gateway("web", 80), nil, testOptions)
	mustApply(t, cs, r)
	services := cs.CoreV1().Services("apps")

	// Someone annotates the Service: not our field, so no write and it stays.
	svc, err := services.Get(ctx, "web-gatehouse", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Annotations = map[string]string{"example.com/owner": "ops"}
	if _, err := services.Update(ctx, svc, metav1.UpdateOptions{FieldManager: "kubectl-annotate"}); err != nil {
		t.Fatal(err)
	}
	cs.ClearActions()
	mustApply(t, cs, r)
	if got := writes(cs); len(got) != 0 {
		t.Errorf("Apply after a foreign annotation wrote %q, want nothing", got)
	}

	// Someone changes a field we own: Apply takes it back.
	svc, err = services.Get(ctx, "web-gatehouse", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Type = corev1.ServiceTypeNodePort
	if _, err := services.Update(ctx, svc, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	cs.ClearActions()
	mustApply(t, cs, r)
	if got := writes(cs); !slices.Equal(got, []string{"patch services web-gatehouse"}) {
		t.Errorf("Apply after a foreign edit of spec.type wrote %q, want the Service patched", got)
	}
	svc, err = services.Get(ctx, "web-gatehouse", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Annotations["example.com/owner"] != "ops" {
		t.Errorf("after Apply: type %s, annotations %v; want LoadBalancer and the foreign annotation kept", svc.Spec.Type, svc.Annotations)
	}
}

func TestApplyRefusesObjectsItDoesNotControl(t *testing.T) {
	ctx := context.Background()
	theirs := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web-gatehouse", Namespace: "apps", Labels: map[string]string{"mine": "yes"}},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{{Port: 9999}}},
	}
	cs := fake.NewClientset(theirs)
	err := Apply(ctx, cs, Desired(gateway("web", 80), nil, testOptions))
	if err == nil || !strings.Contains(err.Error(), "Service apps/web-gatehouse") || !strings.Contains(err.Error(), "rename or delete") {
		t.Fatalf("Apply over a foreign Service: err = %v, want a refusal naming the Service", err)
	}
	got, err := cs.CoreV1().Services("apps").Get(ctx, "web-gatehouse", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Spec.Ports, theirs.Spec.Ports) || got.Labels["mine"] != "yes" {
		t.Errorf("the foreign Service was modified: %+v", got)
	}
	// A Service of another Gateway with the same name (a recreated Gateway
	// has a new UID) is refused too.
	other := Desired(gateway("web", 80), nil, testOptions)
	other.Service.OwnerReferences[0].UID = "uid-old"
	cs = fake.NewClientset(other.Service)
	if err := Apply(ctx, cs, Desired(gateway("web", 80), nil, testOptions)); err == nil {
		t.Errorf("Apply took over a Service controlled by another Gateway UID")
	}
}

func TestApplyReportsReadErrors(t *testing.T) {
	cs := fake.NewClientset()
	boom := errors.New("apiserver unavailable")
	cs.PrependReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, boom
	})
	err := Apply(context.Background(), cs, Desired(gateway("web", 80), nil, testOptions))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "Deployment apps/web-gatehouse") {
		t.Errorf("err = %v, want the get error wrapped with the Deployment's name", err)
	}
}

func resourceQuantity(t *testing.T, s string) resource.Quantity {
	t.Helper()
	q, err := resource.ParseQuantity(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
