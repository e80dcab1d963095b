package provision

import (
	"maps"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
)

// Fixed parts of the proxy pod that the proxy command relies on.
const (
	// ContainerName is the name of the proxy container.
	ContainerName = "proxy"
	// TokenDir is where the projected ServiceAccount token is mounted.
	TokenDir = "/var/run/secrets/gatehouse"
	// TokenFile is the token the proxy presents to the controller.
	TokenFile = TokenDir + "/token"
	// AdminPort serves /ready (the readiness probe) and the admin endpoints.
	AdminPort = 15000
	// DefaultTokenAudience is the audience of the proxy's token when
	// Options.TokenAudience is empty; the controller checks it with a
	// TokenReview.
	DefaultTokenAudience = "gatehouse"

	tokenVolume     = "gatehouse-token"
	tokenExpiration = 3600
	// proxyUser is the distroless "nonroot" user; running as a fixed
	// non-root UID works whatever the image's USER is.
	proxyUser = 65532
)

// Options are the controller-wide settings of provisioned proxies.
type Options struct {
	// Image is the proxy image, used unless GatewayParameters names one.
	Image string
	// ControllerAddress is the host:port of the controller's xDS gRPC server,
	// as reachable from the proxy pods.
	ControllerAddress string
	// TokenAudience is the audience of the projected ServiceAccount token the
	// proxy authenticates with (default "gatehouse").
	TokenAudience string
	// ProxyArgs are appended to the proxy command line.
	ProxyArgs []string
}

// Resources are the objects provisioned for one Gateway.
type Resources struct {
	ServiceAccount *corev1.ServiceAccount
	Deployment     *appsv1.Deployment
	Service        *corev1.Service
}

// Desired returns the objects that run gw's proxies. params may be nil; its
// set fields override the defaults. extraPorts are ports served by
// ListenerSets attached to gw. Desired does no I/O and its result depends
// only on its arguments, so it can be compared and tested directly.
func Desired(gw *gwv1.Gateway, params *v1alpha1.GatewayParameters, o Options, extraPorts ...int32) Resources {
	var spec v1alpha1.GatewayParametersSpec
	if params != nil {
		spec = params.Spec
	}
	ports := listenerPorts(gw)
	if len(extraPorts) > 0 {
		ports = append(ports, extraPorts...)
		slices.Sort(ports)
		ports = slices.Compact(ports)
	}
	return Resources{
		ServiceAccount: serviceAccount(gw),
		Deployment:     withLimitArgs(deployment(gw, spec, o, ports), spec.Limits),
		Service:        service(gw, spec.Service, ports),
	}
}

// objectMeta is the metadata shared by the three objects: name, namespace,
// labels, annotations, and a controller reference to the Gateway.
func objectMeta(gw *gwv1.Gateway) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:        Name(gw),
		Namespace:   gw.Namespace,
		Labels:      objectLabels(gw),
		Annotations: objectAnnotations(gw),
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion:         gwv1.GroupVersion.String(),
			Kind:               "Gateway",
			Name:               gw.Name,
			UID:                gw.UID,
			Controller:         new(true),
			BlockOwnerDeletion: new(true),
		}},
	}
}

func serviceAccount(gw *gwv1.Gateway) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: objectMeta(gw),
		// The proxy never calls the Kubernetes API; its only credential is
		// the projected token with our own audience.
		AutomountServiceAccountToken: new(false),
	}
}

// listenerPorts returns the distinct listener ports of gw, ascending.
func listenerPorts(gw *gwv1.Gateway) []int32 {
	var ports []int32
	for _, l := range gw.Spec.Listeners {
		ports = append(ports, int32(l.Port))
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

// portName names a listener port in the Service and the container: listener
// names are per listener, but several listeners can share a port.
func portName(port int32) string { return "p-" + strconv.Itoa(int(port)) }

func service(gw *gwv1.Gateway, p *v1alpha1.ServiceParameters, ports []int32) *corev1.Service {
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(gw),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: selectorLabels(gw),
		},
	}
	for _, port := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name:       portName(port),
			Protocol:   corev1.ProtocolTCP,
			Port:       port,
			TargetPort: intstr.FromInt32(port),
		})
	}
	if p != nil {
		if p.Type != nil {
			svc.Spec.Type = *p.Type
		}
		if len(p.Annotations) > 0 {
			if svc.Annotations == nil {
				svc.Annotations = map[string]string{}
			}
			maps.Copy(svc.Annotations, p.Annotations)
		}
		// The apiserver rejects externalTrafficPolicy on ClusterIP Services.
		if p.ExternalTrafficPolicy != nil && svc.Spec.Type != corev1.ServiceTypeClusterIP {
			svc.Spec.ExternalTrafficPolicy = *p.ExternalTrafficPolicy
		}
	}
	requestAddresses(svc, gw)
	return svc
}
