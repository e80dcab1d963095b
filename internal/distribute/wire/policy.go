package wire

import (
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	irv1 "gatehouse.dev/gatehouse/api/proto/gatehouse/ir/v1"
	"gatehouse.dev/gatehouse/internal/ir"
)

func policyToProto(p *ir.Policy) *irv1.Policy {
	m := &irv1.Policy{Name: p.Name, Gateways: p.Gateways, PreRouting: celHeadersToProto(p.PreRouting),
		RequestHeaders: celTransformToProto(p.RequestHeaders), ResponseHeaders: celTransformToProto(p.ResponseHeaders)}
	if !p.Created.IsZero() {
		m.Created = timestamppb.New(p.Created)
	}
	m.PreRoutingBody = preRoutingBodyToProto(p.PreRoutingBody)
	for _, t := range p.Targets {
		m.Targets = append(m.Targets, &irv1.PolicyTarget{Kind: string(t.Kind), Name: t.Name})
	}
	if al := p.AccessLog; al != nil {
		m.AccessLog = &irv1.PolicyAccessLog{Fields: celHeadersToProto(al.Fields), Filter: al.Filter}
	}
	if j := p.JWT; j != nil {
		m.Jwt = &irv1.PolicyJWT{Issuer: j.Issuer, Audiences: j.Audiences, JwksInline: j.JWKSInline, JwksUrl: j.JWKSURL, Optional: j.Optional, Invalid: j.Invalid}
	}
	if a := p.Authorization; a != nil {
		m.Authorization = &irv1.PolicyAuthorization{Allow: a.Allow, Deny: a.Deny, Require: a.Require,
			DenyStatus: a.DenyStatus, DenyBody: a.DenyBody, Invalid: a.Invalid}
	}
	return m
}

func policyFromProto(m *irv1.Policy) (*ir.Policy, error) {
	p := &ir.Policy{Name: m.Name, Gateways: m.Gateways, PreRouting: celHeadersFromProto(m.PreRouting),
		RequestHeaders: celTransformFromProto(m.RequestHeaders), ResponseHeaders: celTransformFromProto(m.ResponseHeaders)}
	if m.Created != nil {
		if err := m.Created.CheckValid(); err != nil {
			return nil, fmt.Errorf("created: %w", err)
		}
		p.Created = m.Created.AsTime()
	}
	for _, t := range m.Targets {
		p.Targets = append(p.Targets, ir.PolicyTarget{Kind: ir.PolicyTargetKind(t.Kind), Name: t.Name})
	}
	p.PreRoutingBody = preRoutingBodyFromProto(m.PreRoutingBody)
	if al := m.AccessLog; al != nil {
		p.AccessLog = &ir.PolicyAccessLog{Fields: celHeadersFromProto(al.Fields), Filter: al.Filter}
	}
	if j := m.Jwt; j != nil {
		p.JWT = &ir.PolicyJWT{Issuer: j.Issuer, Audiences: j.Audiences, JWKSInline: j.JwksInline, JWKSURL: j.JwksUrl, Optional: j.Optional, Invalid: j.Invalid}
	}
	if a := m.Authorization; a != nil {
		p.Authorization = &ir.PolicyAuthorization{Allow: a.Allow, Deny: a.Deny, Require: a.Require,
			DenyStatus: a.DenyStatus, DenyBody: a.DenyBody, Invalid: a.Invalid}
	}
	return p, nil
}

func celHeadersToProto(hs []ir.CELHeader) []*irv1.CELHeader {
	var out []*irv1.CELHeader
	for _, h := range hs {
		out = append(out, &irv1.CELHeader{Name: h.Name, Expr: h.Expr})
	}
	return out
}

func celHeadersFromProto(hs []*irv1.CELHeader) []ir.CELHeader {
	var out []ir.CELHeader
	for _, h := range hs {
		out = append(out, ir.CELHeader{Name: h.Name, Expr: h.Expr})
	}
	return out
}

func celTransformToProto(t *ir.CELTransform) *irv1.CELTransform {
	if t == nil {
		return nil
	}
	return &irv1.CELTransform{Set: celHeadersToProto(t.Set), Add: celHeadersToProto(t.Add), Remove: t.Remove, Body: t.Body}
}

func celTransformFromProto(m *irv1.CELTransform) *ir.CELTransform {
	if m == nil {
		return nil
	}
	return &ir.CELTransform{Set: celHeadersFromProto(m.Set), Add: celHeadersFromProto(m.Add), Remove: m.Remove, Body: m.Body}
}
