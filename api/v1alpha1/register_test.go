package v1alpha1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

func TestAddToScheme(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for kind, obj := range map[string]runtime.Object{
		"StaticBackend":         &StaticBackend{},
		"StaticBackendList":     &StaticBackendList{},
		"GatewayParameters":     &GatewayParameters{},
		"GatewayParametersList": &GatewayParametersList{},
	} {
		gvks, _, err := scheme.ObjectKinds(obj)
		if err != nil || len(gvks) != 1 || gvks[0] != GroupVersion.WithKind(kind) {
			t.Errorf("%T registered as %v (%v), want %s", obj, gvks, err, GroupVersion.WithKind(kind))
		}
	}

	const manifest = `
apiVersion: gatehouse.dev/v1alpha1
kind: GatewayParameters
metadata: {name: internal, namespace: default}
spec:
  service: {type: ClusterIP, annotations: {a: b}}
  deployment:
    replicas: 2
    resources: {requests: {cpu: 250m}}
    env: [{name: GOMAXPROCS, value: "2"}]
  logLevel: debug
`
	obj, gvk, err := serializer.NewCodecFactory(scheme).UniversalDeserializer().Decode([]byte(manifest), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := obj.(*GatewayParameters)
	if !ok || gvk.Kind != GatewayParametersKind {
		t.Fatalf("decoded %T (%v), want *GatewayParameters", obj, gvk)
	}
	s := p.Spec
	if p.Name != "internal" || *s.Service.Type != corev1.ServiceTypeClusterIP || s.Service.Annotations["a"] != "b" ||
		*s.Deployment.Replicas != 2 || s.Deployment.Resources.Requests.Cpu().MilliValue() != 250 ||
		s.Deployment.Env[0].Value != "2" || s.LogLevel != "debug" {
		t.Errorf("decoded %+v", p)
	}
}
