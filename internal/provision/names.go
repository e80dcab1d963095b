package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Labels set on every provisioned object and on the proxy pods.
const (
	// LabelGatewayName is the label the Gateway API asks implementations to
	// put on the objects they create for a Gateway.
	LabelGatewayName = "gateway.networking.k8s.io/gateway-name"
	LabelAppName     = "app.kubernetes.io/name"
	LabelAppInstance = "app.kubernetes.io/instance"

	// AppName is the value of LabelAppName on provisioned objects.
	AppName = "gatehouse-proxy"
)

// nameSuffix keeps provisioned objects recognisable next to the user's own.
const nameSuffix = "-gatehouse"

// Name is the name of the ServiceAccount, Deployment and Service provisioned
// for gw: gw.Name + "-gatehouse". Gateway names may be up to 253 characters
// and contain dots, while a Service name must be a DNS-1035 label (at most 63
// characters, letters, digits and '-', starting with a letter); a name that
// would not be one is shortened and made unique with a hash of the Gateway
// name instead.
func Name(gw *gwv1.Gateway) string {
	n := gw.Name + nameSuffix
	if len(validation.IsDNS1035Label(n)) == 0 {
		return n
	}
	base := strings.ReplaceAll(gw.Name, ".", "-")
	if base == "" || base[0] < 'a' || base[0] > 'z' {
		base = "gw-" + base
	}
	hash := shortHash(gw.Name)
	if maxBase := validation.DNS1035LabelMaxLength - len(nameSuffix) - 1 - len(hash); len(base) > maxBase {
		base = base[:maxBase]
	}
	return strings.TrimRight(base, "-") + "-" + hash + nameSuffix
}

// labelValue returns s when it is a valid label value, and otherwise a
// truncated form made unique with a hash (Gateway names can exceed the 63
// characters a label value allows).
func labelValue(s string) string {
	if len(validation.IsValidLabelValue(s)) == 0 {
		return s
	}
	hash := shortHash(s)
	base := s[:min(len(s), validation.LabelValueMaxLength-1-len(hash))]
	return strings.TrimRight(base, "-_.") + "-" + hash
}

// shortHash is 8 hex digits of the SHA-256 of s: enough to tell apart the
// Gateways of one namespace whose names share a long prefix.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// selectorLabels select the proxy pods of gw. They never change for a given
// Gateway because a Deployment's selector is immutable; the Gateway's
// infrastructure labels are therefore on the pods but not in the selector.
func selectorLabels(gw *gwv1.Gateway) map[string]string {
	return map[string]string{
		LabelGatewayName: labelValue(gw.Name),
		LabelAppName:     AppName,
	}
}

// objectLabels are the labels of every provisioned object and pod: the
// Gateway's spec.infrastructure.labels, then ours (which win, so a Gateway
// cannot move its pods out of their own selector).
func objectLabels(gw *gwv1.Gateway) map[string]string {
	out := map[string]string{}
	if infra := gw.Spec.Infrastructure; infra != nil {
		for k, v := range infra.Labels {
			out[string(k)] = string(v)
		}
	}
	maps.Copy(out, selectorLabels(gw))
	out[LabelAppInstance] = labelValue(gw.Name)
	return out
}

// objectAnnotations are the Gateway's spec.infrastructure.annotations, or nil.
func objectAnnotations(gw *gwv1.Gateway) map[string]string {
	infra := gw.Spec.Infrastructure
	if infra == nil || len(infra.Annotations) == 0 {
		return nil
	}
	out := make(map[string]string, len(infra.Annotations))
	for k, v := range infra.Annotations {
		out[string(k)] = string(v)
	}
	return out
}
