package conformance

import (
	"os"

	"sigs.k8s.io/gateway-api/pkg/features"
)

// experimentalFieldFeatures are claimed features whose tests set fields that
// only the experimental-channel CRDs have: a standard-channel apiserver
// drops those fields, so the tests cannot pass there whatever the gateway
// does. (Other experimental features, such as HTTPRouteDestinationPortMatching,
// need no such field and run in both channels.)
var experimentalFieldFeatures = map[features.FeatureName]bool{
	features.SupportHTTPRouteRetry: true,
}

// standardChannelFeatures returns, for a full run on standard-channel CRDs,
// the claimed features without experimentalFieldFeatures; nil on the
// experimental channel, where the suite infers the features from the
// GatewayClass status as usual.
func standardChannelFeatures() []features.FeatureName {
	if ch := os.Getenv("GATEHOUSE_CONFORMANCE_CHANNEL"); ch != "" && ch != "standard" {
		return nil
	}
	claimed := claimedFeatures()
	out := make([]features.FeatureName, 0, len(claimed))
	for _, f := range claimed {
		if !experimentalFieldFeatures[f] {
			out = append(out, f)
		}
	}
	if len(out) == len(claimed) {
		return nil // nothing to leave out: let the suite infer them
	}
	return out
}
