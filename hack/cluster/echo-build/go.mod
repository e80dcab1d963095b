module gatehouse.dev/gatehouse/hack/cluster/echo-build

go 1.26.0

// The conformance module replaces sigs.k8s.io/gateway-api with ../, which
// does not apply here, so the matching release is required explicitly.
require (
	sigs.k8s.io/gateway-api v1.6.3
	sigs.k8s.io/gateway-api/conformance v1.6.3
)
