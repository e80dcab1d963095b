package wire

import (
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	irv1 "gatehouse.dev/gatehouse/api/proto/gatehouse/ir/v1"
	"gatehouse.dev/gatehouse/internal/ir"
)

// l4RouteToProto converts an L4Route; a zero Created travels unset.
func l4RouteToProto(r *ir.L4Route) *irv1.L4Route {
	m := &irv1.L4Route{Name: r.Name, Backends: backendRefsToProto(r.Backends)}
	if !r.Created.IsZero() {
		m.Created = timestamppb.New(r.Created)
	}
	for _, p := range r.Parents {
		m.Parents = append(m.Parents, &irv1.RouteParent{Listener: p.Listener, Hostnames: p.Hostnames})
	}
	return m
}

func l4RouteFromProto(m *irv1.L4Route) (*ir.L4Route, error) {
	r := &ir.L4Route{Name: m.Name, Backends: backendRefsFromProto(m.Backends)}
	if m.Created != nil {
		if err := m.Created.CheckValid(); err != nil {
			return nil, fmt.Errorf("l4 route %s: created: %w", m.Name, err)
		}
		r.Created = m.Created.AsTime()
	}
	for _, p := range m.Parents {
		r.Parents = append(r.Parents, ir.RouteParent{Listener: p.GetListener(), Hostnames: p.GetHostnames()})
	}
	return r, nil
}
