package wire

import (
	irv1 "gatehouse.dev/gatehouse/api/proto/gatehouse/ir/v1"
	"gatehouse.dev/gatehouse/internal/ir"
)

func backendLLMToProto(l *ir.BackendLLM) *irv1.BackendLLM {
	if l == nil {
		return nil
	}
	m := &irv1.BackendLLM{Host: l.Host, PathPrefix: l.PathPrefix, ApiKey: l.APIKey, Invalid: l.Invalid}
	for _, md := range l.Models {
		m.Models = append(m.Models, &irv1.LLMModel{Name: md.Name, Upstream: md.Upstream})
	}
	return m
}

func backendLLMFromProto(m *irv1.BackendLLM) *ir.BackendLLM {
	if m == nil {
		return nil
	}
	l := &ir.BackendLLM{Host: m.Host, PathPrefix: m.PathPrefix, APIKey: m.ApiKey, Invalid: m.Invalid}
	for _, md := range m.Models {
		l.Models = append(l.Models, ir.LLMModel{Name: md.GetName(), Upstream: md.GetUpstream()})
	}
	return l
}

func preRoutingBodyToProto(b *ir.PreRoutingBody) *irv1.PreRoutingBody {
	if b == nil {
		return nil
	}
	return &irv1.PreRoutingBody{ModelHeader: b.ModelHeader, MaxBodyBytes: b.MaxBodyBytes, Reject: b.Reject}
}

func preRoutingBodyFromProto(m *irv1.PreRoutingBody) *ir.PreRoutingBody {
	if m == nil {
		return nil
	}
	return &ir.PreRoutingBody{ModelHeader: m.ModelHeader, MaxBodyBytes: m.MaxBodyBytes, Reject: m.Reject}
}
