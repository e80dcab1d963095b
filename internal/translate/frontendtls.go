package translate

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
)

// frontendConfig returns the client-certificate validation that applies to
// a TLS-terminating listener on port: the Gateway's spec.tls.frontend
// perPort entry for the port, else its default; nil when none is set.
func frontendConfig(f *gwv1.FrontendTLSConfig, port int32) *gwv1.FrontendTLSValidation {
	if f == nil {
		return nil
	}
	for _, p := range f.PerPort {
		if int32(p.Port) == port {
			return p.TLS.Validation
		}
	}
	return f.Default.Validation
}

// clientValidation resolves a frontend validation's CA certificate refs
// (ConfigMaps with ca.crt, in gwNS unless a ReferenceGrant allows another
// namespace). reason is set when some ref is invalid; noneValid when no CA
// could be loaded (the listener must not serve then).
func (t *Translator) clientValidation(ctx *collection.Ctx, gwNS string, v *gwv1.FrontendTLSValidation) (out *ir.ClientValidation, reason gwv1.ListenerConditionReason, msg string, noneValid bool) {
	var pem bytes.Buffer
	var bad []string
	for i, ref := range v.CACertificateRefs {
		field := fmt.Sprintf("spec.tls.frontend validation.caCertificateRefs[%d]", i)
		if ref.Group != "" || ref.Kind != "ConfigMap" {
			if reason == "" {
				reason = gwv1.ListenerReasonInvalidCACertificateKind
			}
			bad = append(bad, fmt.Sprintf("%s: kind %s/%s is not supported; use a ConfigMap with ca.crt", field, ref.Group, ref.Kind))
			continue
		}
		ns := gwNS
		if ref.Namespace != nil && *ref.Namespace != "" {
			ns = string(*ref.Namespace)
		}
		if ns != gwNS && !t.referenceAllowed(ctx, gwv1.GroupName, "Gateway", gwNS, "", "ConfigMap", ns, string(ref.Name)) {
			reason = gwv1.ListenerReasonRefNotPermitted
			bad = append(bad, fmt.Sprintf("%s: ConfigMap %s/%s is in another namespace and no ReferenceGrant allows it", field, ns, ref.Name))
			continue
		}
		cm, ok := collection.Fetch(ctx, t.in.ConfigMaps.Collection, ns+"/"+string(ref.Name))
		var data string
		if ok {
			data = cm.Data["ca.crt"]
		}
		if !ok || !validCAs([]byte(data)) {
			if reason == "" {
				reason = gwv1.ListenerReasonInvalidCACertificateRef
			}
			why := "not found"
			if ok {
				why = "has no PEM CA certificate in key ca.crt"
			}
			bad = append(bad, fmt.Sprintf("%s: ConfigMap %s/%s %s", field, ns, ref.Name, why))
			continue
		}
		pem.WriteString(strings.TrimSpace(data))
		pem.WriteByte('\n')
	}
	if len(bad) > 0 {
		msg = strings.Join(bad, "; ")
	}
	if pem.Len() == 0 {
		return nil, reason, msg, true
	}
	return &ir.ClientValidation{CACertPEM: pem.Bytes(), InsecureFallback: v.Mode == gwv1.AllowInsecureFallback}, reason, msg, false
}

func validCAs(data []byte) bool {
	return len(data) > 0 && x509.NewCertPool().AppendCertsFromPEM(data)
}

// insecureFrontend reports whether any frontend validation of a Gateway
// uses AllowInsecureFallback.
func insecureFrontend(f *gwv1.FrontendTLSConfig) bool {
	if f == nil {
		return false
	}
	if v := f.Default.Validation; v != nil && v.Mode == gwv1.AllowInsecureFallback {
		return true
	}
	for _, p := range f.PerPort {
		if v := p.TLS.Validation; v != nil && v.Mode == gwv1.AllowInsecureFallback {
			return true
		}
	}
	return false
}
