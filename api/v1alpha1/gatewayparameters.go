package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GatewayParametersKind is the kind name used in parametersRefs
// (group: gatehouse.dev, kind: GatewayParameters).
const GatewayParametersKind = "GatewayParameters"

// GatewayParameters tunes the proxy Deployment and Service that the controller
// provisions for a Gateway. It is referenced from a GatewayClass
// spec.parametersRef (with a namespace) or from a Gateway
// spec.infrastructure.parametersRef (same namespace as the Gateway), with
// group gatehouse.dev and kind GatewayParameters. Every field is optional; an
// unset field keeps the controller's default.
//
//	apiVersion: gatehouse.dev/v1alpha1
//	kind: GatewayParameters
//	metadata: {name: internal, namespace: default}
//	spec:
//	  service: {type: ClusterIP}
//	  deployment: {replicas: 2}
//	  logLevel: debug
type GatewayParameters struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec GatewayParametersSpec `json:"spec,omitempty"`
}

// GatewayParametersSpec groups the settings by the object they shape.
type GatewayParametersSpec struct {
	// Service shapes the Service that exposes the proxies.
	Service *ServiceParameters `json:"service,omitempty"`
	// Deployment shapes the proxy Deployment and its pods.
	Deployment *DeploymentParameters `json:"deployment,omitempty"`
	// LogLevel is the proxy's log level: debug, info, warn or error
	// (default: the proxy's own default, info).
	LogLevel string `json:"logLevel,omitempty"`
}

// ServiceParameters shapes the provisioned Service.
type ServiceParameters struct {
	// Type is the Service type: ClusterIP, NodePort or LoadBalancer
	// (default LoadBalancer).
	Type *corev1.ServiceType `json:"type,omitempty"`
	// Annotations are added to the Service only, after the Gateway's
	// spec.infrastructure.annotations (these win on the same key); cloud load
	// balancer settings usually go here.
	Annotations map[string]string `json:"annotations,omitempty"`
	// ExternalTrafficPolicy is Cluster or Local; it applies to NodePort and
	// LoadBalancer Services only and is ignored for ClusterIP.
	ExternalTrafficPolicy *corev1.ServiceExternalTrafficPolicy `json:"externalTrafficPolicy,omitempty"`
}

// DeploymentParameters shapes the provisioned Deployment.
type DeploymentParameters struct {
	// Replicas is the number of proxy pods (default 1).
	Replicas *int32 `json:"replicas,omitempty"`
	// Image overrides the proxy image the controller was started with.
	Image string `json:"image,omitempty"`
	// ImagePullPolicy is Always, IfNotPresent or Never (default: Kubernetes'
	// own default for the image tag).
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// Resources are the proxy container's requests and limits.
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// NodeSelector constrains the nodes the proxy pods run on.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Tolerations let the proxy pods run on tainted nodes.
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// Env is added to the proxy container's environment, after the variables
	// the controller sets (POD_NAME, POD_NAMESPACE).
	Env []corev1.EnvVar `json:"env,omitempty"`
}

// GatewayParametersList is a list of GatewayParameters.
type GatewayParametersList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []GatewayParameters `json:"items"`
}
