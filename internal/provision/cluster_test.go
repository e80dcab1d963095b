package provision

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/test/cluster"
)

// TestAgainstAPIServer runs the manifests, CRDs and Apply against a real
// kube-apiserver (hack/cluster): the fake clientset neither defaults nor
// validates, and the point of the skip-if-unchanged logic is that it holds
// after the apiserver has defaulted everything. Run with
// GATEHOUSE_CLUSTER_TESTS=1 (needs root and hack/cluster/build.sh).
func TestAgainstAPIServer(t *testing.T) {
	if os.Getenv("GATEHOUSE_CLUSTER_TESTS") != "1" {
		t.Skip("set GATEHOUSE_CLUSTER_TESTS=1 to run against a local kube-apiserver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{ExtraCRDDirs: []string{filepath.Join(repoPath, "deploy/crds")}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()

	// Every manifest of deploy/ is accepted by the apiserver.
	var objs []*unstructured.Unstructured
	for _, f := range []string{"controller.yaml", "rbac.yaml", "gatewayclass.yaml"} {
		found, err := cluster.DecodeManifests(filepath.Join(repoPath, "deploy", f))
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, found...)
	}
	gwObjs := decodeUnstructured(t, `
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: apps}
spec:
  gatewayClassName: gatehouse
  infrastructure: {labels: {team: payments}, annotations: {example.com/cost: "42"}}
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - {name: alt, port: 8080, protocol: HTTP}
  - {name: alt2, port: 8080, protocol: HTTP, hostname: b.example.com}
`)
	if err := c.Apply(ctx, append(objs, gwObjs...)...); err != nil {
		t.Fatalf("apply deploy/ and a Gateway: %v", err)
	}
	// The Helm chart, rendered for another release namespace, is accepted
	// too (there is no helm binary here; renderChart implements the part of
	// Helm the chart uses).
	var chartObjs []*unstructured.Unstructured
	chartObjs = append(chartObjs, decodeUnstructured(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: gatehouse-helm}\n")...)
	for _, d := range renderChart(t, release{Name: "gh", Namespace: "gatehouse-helm", Service: "Helm"}, map[string]any{"createGatewayClass": false}) {
		obj := map[string]any{}
		if err := yaml.Unmarshal(d.data, &obj); err != nil {
			t.Fatalf("%s: %v", d.file, err)
		}
		if len(obj) > 0 {
			chartObjs = append(chartObjs, &unstructured.Unstructured{Object: obj})
		}
	}
	if err := c.Apply(ctx, chartObjs...); err != nil {
		t.Fatalf("apply the rendered Helm chart: %v", err)
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	u, err := dyn.Resource(gwv1.SchemeGroupVersion.WithResource("gateways")).Namespace("apps").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gw := &gwv1.Gateway{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, gw); err != nil {
		t.Fatal(err)
	}

	// A client that counts writes.
	var writes atomic.Int32
	cfg := rest.CopyConfig(c.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet {
				writes.Add(1)
			}
			return rt.RoundTrip(r)
		})
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	params := &v1alpha1.GatewayParameters{Spec: v1alpha1.GatewayParametersSpec{
		LogLevel: "debug",
		Service:  &v1alpha1.ServiceParameters{Type: new(corev1.ServiceTypeNodePort), ExternalTrafficPolicy: new(corev1.ServiceExternalTrafficPolicyLocal)},
		Deployment: &v1alpha1.DeploymentParameters{
			Replicas:  new(int32(2)),
			Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.5")}},
			Env: []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"},
			}}},
			Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
			NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
		},
	}}
	for _, p := range []*v1alpha1.GatewayParameters{nil, params} {
		r := Desired(gw, p, Options{Image: "ghcr.io/gatehouse-dev/gatehouse:test", ControllerAddress: "10.244.0.1:15010"})
		writes.Store(0)
		if err := Apply(ctx, client, r); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if writes.Load() == 0 {
			t.Errorf("the first Apply (params %v) wrote nothing", p != nil)
		}
		writes.Store(0)
		if err := Apply(ctx, client, Desired(gw, p, Options{Image: "ghcr.io/gatehouse-dev/gatehouse:test", ControllerAddress: "10.244.0.1:15010"})); err != nil {
			t.Fatalf("second Apply: %v", err)
		}
		if n := writes.Load(); n != 0 {
			t.Errorf("the second Apply (params %v) made %d writes after apiserver defaulting, want 0", p != nil, n)
		}
	}
	svc, err := client.CoreV1().Services("apps").Get(ctx, "web-gatehouse", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Type != corev1.ServiceTypeNodePort || len(svc.Spec.Ports) != 2 || svc.Spec.Ports[0].NodePort == 0 || svc.Labels["team"] != "payments" {
		t.Errorf("Service = %+v", svc)
	}

	// The CRDs validate on the apiserver too.
	checkCreate := func(manifest string, wantOK bool) {
		t.Helper()
		obj := decodeUnstructured(t, manifest)[0]
		gvr := schema.GroupVersionResource{Group: v1alpha1.GroupName, Version: "v1alpha1", Resource: strings.ToLower(obj.GetKind()) + "s"}
		if obj.GetKind() == v1alpha1.GatewayParametersKind {
			gvr.Resource = "gatewayparameters"
		}
		_, err := dyn.Resource(gvr).Namespace("apps").Create(ctx, obj, metav1.CreateOptions{})
		if (err == nil) != wantOK {
			t.Errorf("create %s %s: err = %v, want ok = %v", obj.GetKind(), obj.GetName(), err, wantOK)
		}
	}
	checkCreate(`{apiVersion: gatehouse.dev/v1alpha1, kind: StaticBackend, metadata: {name: ok}, spec: {endpoints: ["[::1]:80", "echo:8080"], protocol: WS}}`, true)
	checkCreate(`{apiVersion: gatehouse.dev/v1alpha1, kind: StaticBackend, metadata: {name: no-port}, spec: {endpoints: ["echo"]}}`, false)
	checkCreate(`{apiVersion: gatehouse.dev/v1alpha1, kind: GatewayParameters, metadata: {name: ok}, spec: {deployment: {resources: {limits: {memory: 1Gi}}}}}`, true)
	checkCreate(`{apiVersion: gatehouse.dev/v1alpha1, kind: GatewayParameters, metadata: {name: bad}, spec: {deployment: {replicas: -1}}}`, false)
	got, err := dyn.Resource(schema.GroupVersionResource{Group: v1alpha1.GroupName, Version: "v1alpha1", Resource: "gatewayparameters"}).
		Namespace("apps").Get(ctx, "ok", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _ := unstructured.NestedInt64(got.Object, "spec", "deployment", "replicas"); r != 1 {
		t.Errorf("CRD default for spec.deployment.replicas = %d, want 1", r)
	}

	// Deleting the Gateway garbage-collects what was provisioned.
	if err := dyn.Resource(gwv1.SchemeGroupVersion.WithResource("gateways")).Namespace("apps").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := client.AppsV1().Deployments("apps").Get(ctx, "web-gatehouse", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the Deployment outlived its Gateway: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func decodeUnstructured(t *testing.T, manifests string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range splitDocuments(t, "inline", []byte(manifests)) {
		obj := map[string]any{}
		if err := yaml.Unmarshal(d.data, &obj); err != nil {
			t.Fatal(err)
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	return out
}
