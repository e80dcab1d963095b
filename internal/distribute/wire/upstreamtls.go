package wire

import (
	irv1 "gatehouse.dev/gatehouse/api/proto/gatehouse/ir/v1"
	"gatehouse.dev/gatehouse/internal/ir"
)

func upstreamTLSToProto(t *ir.UpstreamTLS) *irv1.UpstreamTLS {
	if t == nil {
		return nil
	}
	m := &irv1.UpstreamTLS{ServerName: t.ServerName, CaCertPem: t.CACertPEM, InsecureSkipVerify: t.InsecureSkipVerify,
		ClientCertPem: t.ClientCertPEM, ClientKeyPem: t.ClientKeyPEM, Invalid: t.Invalid}
	for _, s := range t.SubjectAltNames {
		m.SubjectAltNames = append(m.SubjectAltNames, &irv1.SubjectAltName{Type: string(s.Type), Value: s.Value})
	}
	return m
}

func upstreamTLSFromProto(m *irv1.UpstreamTLS) *ir.UpstreamTLS {
	if m == nil {
		return nil
	}
	t := &ir.UpstreamTLS{ServerName: m.GetServerName(), CACertPEM: m.GetCaCertPem(), InsecureSkipVerify: m.GetInsecureSkipVerify(),
		ClientCertPEM: m.GetClientCertPem(), ClientKeyPEM: m.GetClientKeyPem(), Invalid: m.GetInvalid()}
	for _, s := range m.GetSubjectAltNames() {
		t.SubjectAltNames = append(t.SubjectAltNames, ir.SubjectAltName{Type: ir.SANType(s.GetType()), Value: s.GetValue()})
	}
	return t
}
