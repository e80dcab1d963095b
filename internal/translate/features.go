package translate

import (
	"sort"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// SupportedFeatures are the Gateway API features (names from
// sigs.k8s.io/gateway-api/pkg/features) Gatehouse claims: the core features
// of the GATEWAY-HTTP conformance profile and the extended ones it
// implements and passes upstream conformance for. An accepted GatewayClass
// of ours lists them in status.supportedFeatures, and the conformance runner
// (test/conformance) runs the suite for exactly this set.
var SupportedFeatures = []gwv1.FeatureName{
	// core
	"Gateway",
	"GRPCRoute",
	"HTTPRoute",
	"ReferenceGrant",
	"TCPRoute",
	"TLSRoute",
	// extended
	"BackendTLSPolicy",
	"BackendTLSPolicySANValidation",
	"GatewayBackendClientCertificate",
	"GatewayAddressEmpty",
	"GatewayStaticAddresses",
	"GatewayHTTPListenerIsolation",
	"GatewayFrontendClientCertificateValidation",
	"GatewayFrontendClientCertificateValidationInsecureFallback",
	"GatewayHTTPSListenerDetectMisdirectedRequests",
	"GatewayInfrastructure",
	"GatewayPort8080",
	"TLSRouteModeMixed",
	"TLSRouteModeTerminate",
	"ListenerSet",
	"GRPCRouteNamedRouteRule",
	"HTTPRouteBackendProtocolH2C",
	"HTTPRouteBackendProtocolWebSocket",
	"HTTPRouteCORS",
	"HTTPRouteDestinationPortMatching",
	"HTTPRouteNamedRouteRule",
	"HTTPRouteRequestPercentageMirror",
	"HTTPRoute303RedirectStatusCode",
	"HTTPRoute307RedirectStatusCode",
	"HTTPRoute308RedirectStatusCode",
	"HTTPRouteBackendRequestHeaderModification",
	"HTTPRouteBackendTimeout",
	"HTTPRouteHostRewrite",
	"HTTPRouteMethodMatching",
	"HTTPRouteParentRefPort",
	"HTTPRoutePathRedirect",
	"HTTPRoutePathRewrite",
	"HTTPRoutePortRedirect",
	"HTTPRouteQueryParamMatching",
	"HTTPRouteRequestMirror",
	"HTTPRouteRequestMultipleMirrors",
	"HTTPRouteRequestTimeout",
	"HTTPRouteResponseHeaderModification",
	"HTTPRouteRetry", // experimental channel: the retry field needs its CRDs
	"HTTPRouteSchemeRedirect",
}

// supportedFeatures is SupportedFeatures as GatewayClass status wants it:
// sorted by name.
func supportedFeatures() []gwv1.SupportedFeature {
	out := make([]gwv1.SupportedFeature, 0, len(SupportedFeatures))
	for _, f := range SupportedFeatures {
		out = append(out, gwv1.SupportedFeature{Name: f})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
