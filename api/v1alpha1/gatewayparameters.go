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
	// Limits sets the proxy's downstream limits against slow, oversized
	// and malformed requests (the `gatehouse proxy` flags of the same names;
	// see docs/reliability.md). An unset field keeps the proxy's default.
	Limits *ProxyLimits `json:"limits,omitempty"`
}

// ProxyLimits are the proxy's downstream limits. Each field maps to the
// `gatehouse proxy` flag named in its comment.
type ProxyLimits struct {
	// MaxHeaderBytes caps the request header block (--max-header-bytes,
	// default 65536); larger gets 431.
	MaxHeaderBytes *int32 `json:"maxHeaderBytes,omitempty"`
	// MaxHeaderCount caps the number of header fields (--max-header-count,
	// default 100; -1 disables); more gets 431.
	MaxHeaderCount *int32 `json:"maxHeaderCount,omitempty"`
	// ReadHeaderTimeout is the time a client has to send its request
	// headers (--read-header-timeout, default 10s).
	ReadHeaderTimeout *metav1.Duration `json:"readHeaderTimeout,omitempty"`
	// IdleTimeout closes idle keep-alive client connections
	// (--idle-timeout, default 2m).
	IdleTimeout *metav1.Duration `json:"idleTimeout,omitempty"`
	// MinBodyRate is the lowest average request body rate in bytes/s after
	// BodyRateGrace (--min-body-rate, default 256; -1 disables); slower
	// gets 408.
	MinBodyRate *int32 `json:"minBodyRate,omitempty"`
	// BodyRateGrace is the time a body may take before MinBodyRate applies
	// (--body-rate-grace, default 10s).
	BodyRateGrace *metav1.Duration `json:"bodyRateGrace,omitempty"`
	// MaxConcurrentStreams caps the HTTP/2 streams per client connection
	// (--max-concurrent-streams, default 100).
	MaxConcurrentStreams *int32 `json:"maxConcurrentStreams,omitempty"`
	// EscapedSlashes is what to do with %2F and %5C in paths: keep
	// (default), reject (400) or unescape (--escaped-slashes).
	EscapedSlashes string `json:"escapedSlashes,omitempty"`
	// KeepDuplicateSlashes turns off merging "//" in request paths
	// (--keep-duplicate-slashes).
	KeepDuplicateSlashes *bool `json:"keepDuplicateSlashes,omitempty"`
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
