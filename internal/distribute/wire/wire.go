// Package wire converts IR resources to and from their protobuf wire form
// (api/proto/gatehouse/ir/v1), packed in google.protobuf.Any with the type
// URLs "type.googleapis.com/gatehouse.ir.v1.<Kind>".
//
// The mapping is written out field by field; wire_test.go fills every field of
// every IR type by reflection, so a field added to internal/ir without a
// mapping here fails the round-trip test.
package wire

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	irv1 "gatehouse.dev/gatehouse/api/proto/gatehouse/ir/v1"
	"gatehouse.dev/gatehouse/internal/ir"
)

// TypeURLPrefix precedes the message name in every type URL we send.
const TypeURLPrefix = "type.googleapis.com/gatehouse.ir.v1."

// TypeURL returns the Any type URL of an IR kind.
func TypeURL(k ir.Kind) string { return TypeURLPrefix + string(k) }

// KindOf returns the IR kind a type URL carries, or false for a foreign URL.
func KindOf(typeURL string) (ir.Kind, bool) {
	name, ok := strings.CutPrefix(typeURL, TypeURLPrefix)
	if !ok {
		return "", false
	}
	switch k := ir.Kind(name); k {
	case ir.KindBind, ir.KindListener, ir.KindRoute, ir.KindBackend, ir.KindCertificate, ir.KindPolicy, ir.KindL4Route:
		return k, true
	}
	return "", false
}

// ResourceName is the name a resource travels under in xDS messages
// (Resource.name and removed_resources): "Kind/name".
func ResourceName(id ir.ID) string { return id.String() }

// ParseResourceName splits a "Kind/name" xDS resource name.
func ParseResourceName(s string) (ir.ID, error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok || name == "" {
		return ir.ID{}, fmt.Errorf("resource name %q: want Kind/name", s)
	}
	if _, known := KindOf(TypeURL(ir.Kind(kind))); !known {
		return ir.ID{}, fmt.Errorf("resource name %q: unknown kind %q", s, kind)
	}
	return ir.ID{Kind: ir.Kind(kind), Name: name}, nil
}

// ToProto converts one IR resource to an Any.
func ToProto(r ir.Resource) (*anypb.Any, error) {
	var m proto.Message
	switch v := r.(type) {
	case *ir.Bind:
		m = bindToProto(v)
	case *ir.Listener:
		m = listenerToProto(v)
	case *ir.Certificate:
		m = &irv1.Certificate{Name: v.Name, CertPem: v.CertPEM, KeyPem: v.KeyPEM}
	case *ir.Route:
		m = routeToProto(v)
	case *ir.Backend:
		m = backendToProto(v)
	case *ir.Policy:
		m = policyToProto(v)
	case *ir.L4Route:
		m = l4RouteToProto(v)
	default:
		return nil, fmt.Errorf("wire: unsupported resource type %T", r)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: marshal %s: %w", r.ResourceID(), err)
	}
	return &anypb.Any{TypeUrl: TypeURL(r.ResourceID().Kind), Value: b}, nil
}

// FromProto converts an Any produced by ToProto back to an IR resource. It
// fails on a foreign type URL, undecodable bytes or a resource without a name.
func FromProto(a *anypb.Any) (ir.Resource, error) {
	if a == nil {
		return nil, fmt.Errorf("wire: nil resource")
	}
	kind, ok := KindOf(a.GetTypeUrl())
	if !ok {
		return nil, fmt.Errorf("wire: unknown type URL %q", a.GetTypeUrl())
	}
	var r ir.Resource
	var err error
	switch kind {
	case ir.KindBind:
		m := &irv1.Bind{}
		if err = proto.Unmarshal(a.Value, m); err == nil {
			r = bindFromProto(m)
		}
	case ir.KindListener:
		m := &irv1.Listener{}
		if err = proto.Unmarshal(a.Value, m); err == nil {
			r = listenerFromProto(m)
		}
	case ir.KindCertificate:
		m := &irv1.Certificate{}
		if err = proto.Unmarshal(a.Value, m); err == nil {
			r = &ir.Certificate{Name: m.Name, CertPEM: m.CertPem, KeyPEM: m.KeyPem}
		}
	case ir.KindRoute:
		m := &irv1.Route{}
		if err = proto.Unmarshal(a.Value, m); err == nil {
			r, err = routeFromProto(m)
		}
	case ir.KindBackend:
		m := &irv1.Backend{}
		if err = proto.Unmarshal(a.Value, m); err == nil {
			r = backendFromProto(m)
		}
	case ir.KindPolicy:
		m := &irv1.Policy{}
		if err = proto.Unmarshal(a.Value, m); err == nil {
			r, err = policyFromProto(m)
		}
	case ir.KindL4Route:
		m := &irv1.L4Route{}
		if err = proto.Unmarshal(a.Value, m); err == nil {
			r, err = l4RouteFromProto(m)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("wire: decode %s: %w", kind, err)
	}
	if r.ResourceID().Name == "" {
		return nil, fmt.Errorf("wire: %s without a name", kind)
	}
	return r, nil
}

func bindToProto(b *ir.Bind) *irv1.Bind {
	return &irv1.Bind{Name: b.Name, Address: b.Address, Port: b.Port, Protocol: string(b.Protocol)}
}

func bindFromProto(m *irv1.Bind) *ir.Bind {
	return &ir.Bind{Name: m.Name, Address: m.Address, Port: m.Port, Protocol: ir.Protocol(m.Protocol)}
}

func listenerToProto(l *ir.Listener) *irv1.Listener {
	m := &irv1.Listener{Name: l.Name, Gateway: l.Gateway, Bind: l.Bind, Hostname: l.Hostname,
		Protocol: string(l.Protocol), Certificates: l.Certificates, TlsMode: string(l.TLSMode)}
	if v := l.ClientValidation; v != nil {
		m.ClientValidation = &irv1.ClientValidation{CaCertPem: v.CACertPEM, InsecureFallback: v.InsecureFallback}
	}
	return m
}

func listenerFromProto(m *irv1.Listener) *ir.Listener {
	l := &ir.Listener{Name: m.Name, Gateway: m.Gateway, Bind: m.Bind, Hostname: m.Hostname,
		Protocol: ir.Protocol(m.Protocol), Certificates: m.Certificates, TLSMode: ir.TLSMode(m.TlsMode)}
	if v := m.ClientValidation; v != nil {
		l.ClientValidation = &ir.ClientValidation{CACertPEM: v.CaCertPem, InsecureFallback: v.InsecureFallback}
	}
	return l
}

func backendToProto(b *ir.Backend) *irv1.Backend {
	m := &irv1.Backend{Name: b.Name}
	for _, p := range b.Ports {
		pp := &irv1.BackendPort{Port: p.Port, Protocol: string(p.Protocol)}
		for _, e := range p.Endpoints {
			pp.Endpoints = append(pp.Endpoints, &irv1.Endpoint{Address: e.Address, Port: e.Port, Ready: e.Ready})
		}
		m.Ports = append(m.Ports, pp)
	}
	m.Tls = upstreamTLSToProto(b.TLS)
	m.Llm = backendLLMToProto(b.LLM)
	return m
}

func backendFromProto(m *irv1.Backend) *ir.Backend {
	b := &ir.Backend{Name: m.Name}
	for _, pp := range m.Ports {
		p := ir.BackendPort{Port: pp.GetPort(), Protocol: ir.AppProtocol(pp.GetProtocol())}
		for _, e := range pp.GetEndpoints() {
			p.Endpoints = append(p.Endpoints, ir.Endpoint{Address: e.GetAddress(), Port: e.GetPort(), Ready: e.GetReady()})
		}
		b.Ports = append(b.Ports, p)
	}
	b.TLS = upstreamTLSFromProto(m.Tls)
	b.LLM = backendLLMFromProto(m.Llm)
	return b
}
