package provision

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
)

func TestMergeParameters(t *testing.T) {
	params := func(spec v1alpha1.GatewayParametersSpec) *v1alpha1.GatewayParameters {
		return &v1alpha1.GatewayParameters{Spec: spec}
	}
	class := params(v1alpha1.GatewayParametersSpec{
		LogLevel: "info",
		Service:  &v1alpha1.ServiceParameters{Type: new(corev1.ServiceTypeNodePort), Annotations: map[string]string{"a": "class", "b": "class"}},
		Deployment: &v1alpha1.DeploymentParameters{
			Replicas: new(int32(2)), Image: "class:1", NodeSelector: map[string]string{"zone": "a"},
			Tolerations: []corev1.Toleration{{Key: "class"}}, Env: []corev1.EnvVar{{Name: "CLASS"}},
		},
	})
	tests := []struct {
		name           string
		class, gateway *v1alpha1.GatewayParameters
		want           *v1alpha1.GatewayParameters
	}{
		{"neither", nil, nil, nil},
		{"class only", class, nil, class},
		{"gateway only", nil, class, class},
		{"gateway overrides field by field", class, params(v1alpha1.GatewayParametersSpec{
			LogLevel: "debug",
			Service:  &v1alpha1.ServiceParameters{Annotations: map[string]string{"b": "gw", "c": "gw"}},
			Deployment: &v1alpha1.DeploymentParameters{
				Replicas: new(int32(5)), NodeSelector: map[string]string{"disk": "ssd"},
				Tolerations: []corev1.Toleration{{Key: "gw"}},
			},
		}), params(v1alpha1.GatewayParametersSpec{
			LogLevel: "debug",
			Service:  &v1alpha1.ServiceParameters{Type: new(corev1.ServiceTypeNodePort), Annotations: map[string]string{"a": "class", "b": "gw", "c": "gw"}},
			Deployment: &v1alpha1.DeploymentParameters{
				Replicas: new(int32(5)), Image: "class:1", NodeSelector: map[string]string{"zone": "a", "disk": "ssd"},
				Tolerations: []corev1.Toleration{{Key: "gw"}}, Env: []corev1.EnvVar{{Name: "CLASS"}},
			},
		})},
		{"gateway sets what the class lacks", params(v1alpha1.GatewayParametersSpec{}), params(v1alpha1.GatewayParametersSpec{
			Service: &v1alpha1.ServiceParameters{Type: new(corev1.ServiceTypeClusterIP)},
		}), params(v1alpha1.GatewayParametersSpec{
			Service: &v1alpha1.ServiceParameters{Type: new(corev1.ServiceTypeClusterIP)},
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			classBefore, gwBefore := tt.class.DeepCopy(), tt.gateway.DeepCopy()
			got := MergeParameters(tt.class, tt.gateway)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MergeParameters =\n%+v\nwant\n%+v", got, tt.want)
			}
			if got != nil && got.Spec.Service != nil && got.Spec.Service.Annotations != nil {
				got.Spec.Service.Annotations["mutated"] = "x"
			}
			if got != nil && got.Spec.Deployment != nil && got.Spec.Deployment.NodeSelector != nil {
				got.Spec.Deployment.NodeSelector["mutated"] = "x"
			}
			if !reflect.DeepEqual(tt.class, classBefore) || !reflect.DeepEqual(tt.gateway, gwBefore) {
				t.Errorf("MergeParameters' result shares memory with its arguments")
			}
		})
	}
}
