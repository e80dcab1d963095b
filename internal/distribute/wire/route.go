package wire

import (
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	irv1 "gatehouse.dev/gatehouse/api/proto/gatehouse/ir/v1"
	"gatehouse.dev/gatehouse/internal/ir"
)

// routeToProto converts a Route. A zero Created or timeout travels as an
// unset field; Created comes back in UTC.
func routeToProto(r *ir.Route) *irv1.Route {
	m := &irv1.Route{Name: r.Name, RouteName: r.RouteName, RuleIndex: int64(r.RuleIndex), RuleName: r.RuleName,
		Filters: filtersToProto(r.Filters), Backends: backendRefsToProto(r.Backends)}
	if !r.Created.IsZero() {
		m.Created = timestamppb.New(r.Created)
	}
	for _, p := range r.Parents {
		m.Parents = append(m.Parents, &irv1.RouteParent{Listener: p.Listener, Hostnames: p.Hostnames})
	}
	for _, mt := range r.Matches {
		m.Matches = append(m.Matches, &irv1.Match{
			Path:        &irv1.PathMatch{Type: string(mt.Path.Type), Value: mt.Path.Value},
			Headers:     valueMatchesToProto(mt.Headers),
			QueryParams: valueMatchesToProto(mt.QueryParams),
			Method:      mt.Method,
		})
	}
	if r.Timeouts != (ir.Timeouts{}) {
		m.Timeouts = &irv1.Timeouts{Request: durationToProto(r.Timeouts.Request),
			BackendRequest: durationToProto(r.Timeouts.BackendRequest)}
	}
	m.Retry = retryToProto(r.Retry)
	return m
}

func routeFromProto(m *irv1.Route) (*ir.Route, error) {
	r := &ir.Route{Name: m.Name, RouteName: m.RouteName, RuleIndex: int(m.RuleIndex), RuleName: m.RuleName,
		Filters: filtersFromProto(m.Filters), Backends: backendRefsFromProto(m.Backends)}
	if m.Created != nil {
		if err := m.Created.CheckValid(); err != nil {
			return nil, fmt.Errorf("route %s: created: %w", m.Name, err)
		}
		r.Created = m.Created.AsTime()
	}
	for _, p := range m.Parents {
		r.Parents = append(r.Parents, ir.RouteParent{Listener: p.GetListener(), Hostnames: p.GetHostnames()})
	}
	for _, mt := range m.Matches {
		r.Matches = append(r.Matches, ir.Match{
			Path:        ir.PathMatch{Type: ir.PathMatchType(mt.GetPath().GetType()), Value: mt.GetPath().GetValue()},
			Headers:     valueMatchesFromProto(mt.GetHeaders()),
			QueryParams: valueMatchesFromProto(mt.GetQueryParams()),
			Method:      mt.GetMethod(),
		})
	}
	if t := m.Timeouts; t != nil {
		var err error
		if r.Timeouts.Request, err = durationFromProto(t.Request); err != nil {
			return nil, fmt.Errorf("route %s: request timeout: %w", m.Name, err)
		}
		if r.Timeouts.BackendRequest, err = durationFromProto(t.BackendRequest); err != nil {
			return nil, fmt.Errorf("route %s: backend request timeout: %w", m.Name, err)
		}
	}
	if m.Retry != nil {
		var err error
		if r.Retry, err = retryFromProto(m.Retry); err != nil {
			return nil, fmt.Errorf("route %s: retry: %w", m.Name, err)
		}
	}
	return r, nil
}

func retryToProto(r *ir.Retry) *irv1.Retry {
	if r == nil {
		return nil
	}
	m := &irv1.Retry{Attempts: int64(r.Attempts), Backoff: durationToProto(r.Backoff)}
	for _, c := range r.Codes {
		m.Codes = append(m.Codes, int32(c))
	}
	return m
}

// retryFromProto converts a Retry. Attempts or a backoff out of range are
// errors (the translator never sends them), so a bad message is rejected,
// not served; codes are kept as they are (the proxy only ever retries
// 4xx and 5xx answers).
func retryFromProto(m *irv1.Retry) (*ir.Retry, error) {
	r := &ir.Retry{Attempts: int(m.Attempts)}
	if m.Attempts < 1 || m.Attempts > math.MaxInt32 {
		return nil, fmt.Errorf("attempts %d is out of range", m.Attempts)
	}
	for _, c := range m.Codes {
		r.Codes = append(r.Codes, int(c))
	}
	var err error
	if r.Backoff, err = durationFromProto(m.Backoff); err != nil {
		return nil, fmt.Errorf("backoff: %w", err)
	}
	if r.Backoff < 0 {
		return nil, fmt.Errorf("backoff %s is negative", r.Backoff)
	}
	return r, nil
}

func durationToProto(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func durationFromProto(d *durationpb.Duration) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, err
	}
	return d.AsDuration(), nil
}

func valueMatchesToProto(vs []ir.ValueMatch) []*irv1.ValueMatch {
	var out []*irv1.ValueMatch
	for _, v := range vs {
		out = append(out, &irv1.ValueMatch{Name: v.Name, Value: v.Value, Regex: v.Regex})
	}
	return out
}

func valueMatchesFromProto(vs []*irv1.ValueMatch) []ir.ValueMatch {
	var out []ir.ValueMatch
	for _, v := range vs {
		out = append(out, ir.ValueMatch{Name: v.GetName(), Value: v.GetValue(), Regex: v.GetRegex()})
	}
	return out
}

func backendRefsToProto(bs []ir.BackendRef) []*irv1.BackendRef {
	var out []*irv1.BackendRef
	for i := range bs {
		out = append(out, backendRefToProto(&bs[i]))
	}
	return out
}

func backendRefToProto(b *ir.BackendRef) *irv1.BackendRef {
	return &irv1.BackendRef{Backend: b.Backend, Port: b.Port, Weight: b.Weight, Invalid: b.Invalid,
		Filters: filtersToProto(b.Filters)}
}

func backendRefsFromProto(bs []*irv1.BackendRef) []ir.BackendRef {
	var out []ir.BackendRef
	for _, b := range bs {
		out = append(out, backendRefFromProto(b))
	}
	return out
}

func backendRefFromProto(b *irv1.BackendRef) ir.BackendRef {
	return ir.BackendRef{Backend: b.GetBackend(), Port: b.GetPort(), Weight: b.GetWeight(), Invalid: b.GetInvalid(),
		Filters: filtersFromProto(b.GetFilters())}
}

func filtersToProto(fs []ir.Filter) []*irv1.Filter {
	var out []*irv1.Filter
	for _, f := range fs {
		m := &irv1.Filter{Type: string(f.Type),
			RequestHeaders:  headerModifierToProto(f.RequestHeaders),
			ResponseHeaders: headerModifierToProto(f.ResponseHeaders)}
		if r := f.Redirect; r != nil {
			m.Redirect = &irv1.Redirect{Scheme: r.Scheme, Hostname: r.Hostname, Port: r.Port,
				Path: pathModifierToProto(r.Path), StatusCode: int64(r.StatusCode)}
		}
		if r := f.Rewrite; r != nil {
			m.Rewrite = &irv1.Rewrite{Hostname: r.Hostname, Path: pathModifierToProto(r.Path)}
		}
		if mi := f.Mirror; mi != nil {
			m.Mirror = &irv1.Mirror{Backend: backendRefToProto(&mi.Backend), Percent: mi.Percent}
		}
		if c := f.CORS; c != nil {
			m.Cors = &irv1.CORS{AllowOrigins: c.AllowOrigins, AllowCredentials: c.AllowCredentials,
				AllowMethods: c.AllowMethods, AllowHeaders: c.AllowHeaders, ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge}
		}
		out = append(out, m)
	}
	return out
}

func filtersFromProto(fs []*irv1.Filter) []ir.Filter {
	var out []ir.Filter
	for _, m := range fs {
		f := ir.Filter{Type: ir.FilterType(m.GetType()),
			RequestHeaders:  headerModifierFromProto(m.GetRequestHeaders()),
			ResponseHeaders: headerModifierFromProto(m.GetResponseHeaders())}
		if r := m.GetRedirect(); r != nil {
			f.Redirect = &ir.Redirect{Scheme: r.Scheme, Hostname: r.Hostname, Port: r.Port,
				Path: pathModifierFromProto(r.Path), StatusCode: int(r.StatusCode)}
		}
		if r := m.GetRewrite(); r != nil {
			f.Rewrite = &ir.Rewrite{Hostname: r.Hostname, Path: pathModifierFromProto(r.Path)}
		}
		if mi := m.GetMirror(); mi != nil {
			f.Mirror = &ir.Mirror{Backend: backendRefFromProto(mi.GetBackend()), Percent: mi.Percent}
		}
		if c := m.GetCors(); c != nil {
			f.CORS = &ir.CORS{AllowOrigins: c.AllowOrigins, AllowCredentials: c.AllowCredentials,
				AllowMethods: c.AllowMethods, AllowHeaders: c.AllowHeaders, ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge}
		}
		out = append(out, f)
	}
	return out
}

func headerModifierToProto(h *ir.HeaderModifier) *irv1.HeaderModifier {
	if h == nil {
		return nil
	}
	m := &irv1.HeaderModifier{Remove: h.Remove}
	for _, s := range h.Set {
		m.Set = append(m.Set, &irv1.Header{Name: s.Name, Value: s.Value})
	}
	for _, a := range h.Add {
		m.Add = append(m.Add, &irv1.Header{Name: a.Name, Value: a.Value})
	}
	return m
}

func headerModifierFromProto(m *irv1.HeaderModifier) *ir.HeaderModifier {
	if m == nil {
		return nil
	}
	h := &ir.HeaderModifier{Remove: m.Remove}
	for _, s := range m.Set {
		h.Set = append(h.Set, ir.Header{Name: s.GetName(), Value: s.GetValue()})
	}
	for _, a := range m.Add {
		h.Add = append(h.Add, ir.Header{Name: a.GetName(), Value: a.GetValue()})
	}
	return h
}

func pathModifierToProto(p *ir.PathModifier) *irv1.PathModifier {
	if p == nil {
		return nil
	}
	return &irv1.PathModifier{Type: string(p.Type), Value: p.Value}
}

func pathModifierFromProto(m *irv1.PathModifier) *ir.PathModifier {
	if m == nil {
		return nil
	}
	return &ir.PathModifier{Type: ir.PathModifierType(m.Type), Value: m.Value}
}
