package file

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/internal/source"
)

const (
	gatewayV1      = "gateway.networking.k8s.io/v1"
	gatewayV1beta1 = "gateway.networking.k8s.io/v1beta1"
)

// kindInfo describes one supported kind: how to decode, default and
// validate it.
type kindInfo struct {
	kind string
	// apiVersions accepted in files; the first is set on decoded objects.
	apiVersions []string
	namespaced  bool
	newObject   func() source.Object
	// setDefaults applies the defaults the apiserver or CRD schema would.
	setDefaults func(source.Object)
	// validate returns what the apiserver or CRD schema would reject.
	validate func(source.Object) []fieldIssue
}

// kinds lists every kind the file source accepts, by kind name.
var kinds = map[string]*kindInfo{
	source.KindGatewayClass: {
		apiVersions: []string{gatewayV1, gatewayV1beta1},
		newObject:   func() source.Object { return &gatewayv1.GatewayClass{} },
		validate:    validateGatewayClass,
	},
	source.KindGateway: {
		apiVersions: []string{gatewayV1, gatewayV1beta1}, namespaced: true,
		newObject:   func() source.Object { return &gatewayv1.Gateway{} },
		setDefaults: defaultGateway,
		validate:    validateGateway,
	},
	source.KindHTTPRoute: {
		apiVersions: []string{gatewayV1, gatewayV1beta1}, namespaced: true,
		newObject:   func() source.Object { return &gatewayv1.HTTPRoute{} },
		setDefaults: defaultHTTPRoute,
		validate:    validateHTTPRoute,
	},
	source.KindListenerSet: {
		apiVersions: []string{gatewayV1}, namespaced: true,
		newObject:   func() source.Object { return &gatewayv1.ListenerSet{} },
		setDefaults: defaultListenerSet,
		validate:    validateListenerSet,
	},
	source.KindGRPCRoute: {
		apiVersions: []string{gatewayV1}, namespaced: true,
		newObject:   func() source.Object { return &gatewayv1.GRPCRoute{} },
		setDefaults: defaultGRPCRoute,
		validate:    validateGRPCRoute,
	},
	source.KindBackendTLSPolicy: {
		apiVersions: []string{gatewayV1}, namespaced: true,
		newObject: func() source.Object { return &gatewayv1.BackendTLSPolicy{} },
		validate:  validateBackendTLSPolicy,
	},
	source.KindReferenceGrant: {
		apiVersions: []string{gatewayV1, gatewayV1beta1}, namespaced: true,
		newObject: func() source.Object { return &gatewayv1.ReferenceGrant{} },
		validate:  validateReferenceGrant,
	},
	source.KindService: {
		apiVersions: []string{"v1"}, namespaced: true,
		newObject:   func() source.Object { return &corev1.Service{} },
		setDefaults: defaultService,
		validate:    validateService,
	},
	source.KindSecret: {
		apiVersions: []string{"v1"}, namespaced: true,
		newObject:   func() source.Object { return &corev1.Secret{} },
		setDefaults: defaultSecret,
	},
	source.KindConfigMap: {
		apiVersions: []string{"v1"}, namespaced: true,
		newObject: func() source.Object { return &corev1.ConfigMap{} },
	},
	source.KindNamespace: {
		apiVersions: []string{"v1"},
		newObject:   func() source.Object { return &corev1.Namespace{} },
	},
	source.KindEndpointSlice: {
		apiVersions: []string{"discovery.k8s.io/v1"}, namespaced: true,
		newObject: func() source.Object { return &discoveryv1.EndpointSlice{} },
		validate:  validateEndpointSlice,
	},
	source.KindStaticBackend: {
		apiVersions: []string{v1alpha1.GroupVersion.String()}, namespaced: true,
		newObject: func() source.Object { return &v1alpha1.StaticBackend{} },
		validate:  validateStaticBackend,
	},
	source.KindTrafficPolicy: {
		apiVersions: []string{v1alpha1.GroupVersion.String()}, namespaced: true,
		newObject: func() source.Object { return &v1alpha1.TrafficPolicy{} },
		validate:  validateTrafficPolicy,
	},
}

func init() {
	for name, k := range kinds {
		k.kind = name
	}
}

// supportedKinds is the sorted list of kind names, for messages.
func supportedKinds() string {
	names := make([]string, 0, len(kinds))
	for name := range kinds {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// typeMeta is what decoded objects of this kind carry.
func (k *kindInfo) typeMeta() metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: k.apiVersions[0], Kind: k.kind}
}
