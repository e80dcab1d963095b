package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
)

// FieldManager is the server-side apply field manager of provisioned objects.
const FieldManager = "gatehouse"

// Apply creates or updates r's objects with server-side apply, taking
// ownership of exactly the fields Desired sets: fields others set (a node
// port the apiserver allocated, an annotation added by hand) are kept, and a
// field Desired stops setting is removed. An object whose fields owned by
// FieldManager already hold the desired values is not written at all, so an
// unchanged Gateway costs one read per object and no writes. An object of
// the same name that is not controlled by the same Gateway is left alone and
// reported as an error.
func Apply(ctx context.Context, client kubernetes.Interface, r Resources) error {
	return ApplyRecorded(ctx, client, r, nil)
}

// Outcome is what applying one object did.
type Outcome string

// Outcomes of applying an object.
const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
	Failed    Outcome = "error"
)

// Recorder is told the outcome of every object Apply handles, with the
// object's kind (ServiceAccount, Service, Deployment); for metrics.
type Recorder func(kind string, outcome Outcome)

// ApplyRecorded is Apply reporting each object's outcome to rec (which may
// be nil).
func ApplyRecorded(ctx context.Context, client kubernetes.Interface, r Resources, rec Recorder) error {
	if rec == nil {
		rec = func(string, Outcome) {}
	}
	// The ServiceAccount first: the Deployment's pods need it to start.
	if sa := r.ServiceAccount; sa != nil {
		c := client.CoreV1().ServiceAccounts(sa.Namespace)
		if err := recorded(rec, "ServiceAccount")(applyObject(ctx, sa, c.Get, corev1ac.ExtractServiceAccount, c.Apply)); err != nil {
			return err
		}
	}
	if svc := r.Service; svc != nil {
		c := client.CoreV1().Services(svc.Namespace)
		if err := recorded(rec, "Service")(applyObject(ctx, svc, c.Get, corev1ac.ExtractService, c.Apply)); err != nil {
			return err
		}
	}
	if dep := r.Deployment; dep != nil {
		c := client.AppsV1().Deployments(dep.Namespace)
		if err := recorded(rec, "Deployment")(applyObject(ctx, dep, c.Get, appsv1ac.ExtractDeployment, c.Apply)); err != nil {
			return err
		}
	}
	return nil
}

// recorded reports an applyObject result to rec and passes its error on.
func recorded(rec Recorder, kind string) func(Outcome, error) error {
	return func(o Outcome, err error) error {
		if err != nil {
			o = Failed
		}
		rec(kind, o)
		return err
	}
}

// provisioned is what applyObject needs of a typed object.
type provisioned interface {
	*corev1.ServiceAccount | *corev1.Service | *appsv1.Deployment
	metav1.Object
	runtime.Object
}

// applyObject applies desired unless the fields FieldManager owns in the
// live object already equal it. The comparison relies on Desired writing,
// inside atomic structs (a fieldRef, a label selector), every value the
// apiserver would default: an atomic struct is extracted whole, defaults
// included. TestAgainstAPIServer checks this on a real apiserver.
func applyObject[O provisioned, AC any](
	ctx context.Context,
	desired O,
	get func(context.Context, string, metav1.GetOptions) (O, error),
	extract func(O, string) (*AC, error),
	apply func(context.Context, *AC, metav1.ApplyOptions) (O, error),
) (Outcome, error) {
	what := fmt.Sprintf("%s %s/%s", desired.GetObjectKind().GroupVersionKind().Kind, desired.GetNamespace(), desired.GetName())
	want, err := toApplyConfiguration[AC](desired)
	if err != nil {
		return Failed, fmt.Errorf("apply %s: %w", what, err)
	}
	outcome := Created
	live, err := get(ctx, desired.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return Failed, fmt.Errorf("apply %s: read the current object: %w", what, err)
	default:
		if err := checkController(live, desired); err != nil {
			return Failed, fmt.Errorf("apply %s: %w", what, err)
		}
		owned, err := extract(live, FieldManager)
		if err != nil {
			return Failed, fmt.Errorf("apply %s: extract the fields of %q: %w", what, FieldManager, err)
		}
		if same, err := sameJSON(owned, want); err != nil {
			return Failed, fmt.Errorf("apply %s: %w", what, err)
		} else if same {
			return Unchanged, nil
		}
		outcome = Updated
	}
	if _, err := apply(ctx, want, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return Failed, fmt.Errorf("apply %s: %w", what, err)
	}
	return outcome, nil
}

// checkController refuses to take over an object that some other owner (or
// nobody) controls: a user's own Service that happens to be named
// "<gateway>-gatehouse" must not be rewritten.
func checkController(live, desired metav1.Object) error {
	want := metav1.GetControllerOfNoCopy(desired)
	got := metav1.GetControllerOfNoCopy(live)
	if want == nil || got != nil && got.UID == want.UID {
		return nil
	}
	owner := "no controller"
	if got != nil {
		owner = fmt.Sprintf("controller %s %s", got.Kind, got.Name)
	}
	return fmt.Errorf("the existing object has %s, not %s %s: rename or delete it so Gatehouse can provision the Gateway", owner, want.Kind, want.Name)
}

// toApplyConfiguration converts a typed object to its apply configuration:
// both have the same JSON form. The status is dropped (a typed object always
// has one, and it is not ours to apply).
func toApplyConfiguration[AC any](obj runtime.Object) (*AC, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	delete(u, "status")
	data, err := json.Marshal(u)
	if err != nil {
		return nil, err
	}
	ac := new(AC)
	if err := json.Unmarshal(data, ac); err != nil {
		return nil, err
	}
	return ac, nil
}

// sameJSON compares two apply configurations by their JSON form, which
// normalises quantities and orders map keys.
func sameJSON(a, b any) (bool, error) {
	ja, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ja, jb), nil
}
