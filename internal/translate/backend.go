package translate

import (
	"net"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
)

// backendCollection translates Services (with their EndpointSlices) and
// StaticBackends into ir.Backends. Only backends some route uses are
// translated, so Services nobody routes to cost nothing downstream.
func (t *Translator) backendCollection(routesByBackend collection.Index[*routeResult]) collection.Collection[*ir.Backend] {
	// The primary is the set of backend names routes reference (with their
	// reference counts), so Services and StaticBackends share one collection
	// keyed by IR name.
	byName := collection.IndexCounts(routesByBackend)
	return collection.Map(t.engine, "backends", byName, nil,
		func(ctx *collection.Ctx, name string, _ int) (*ir.Backend, bool) {
			kind, key, ok := splitBackendName(name)
			if !ok {
				return nil, false
			}
			if kind == v1alpha1.StaticBackendKind {
				sb, found := collection.Fetch(ctx, t.in.StaticBackends.Collection, key)
				if !found {
					return nil, false
				}
				return t.staticBackend(ctx, name, sb), true
			}
			key, port := splitServicePort(key) // backendtls.go: "ns/name:port" backends
			svc, found := collection.Fetch(ctx, t.in.Services.Collection, key)
			if !found {
				return nil, false
			}
			b := serviceBackend(name, svc, collection.FetchIndex(ctx, t.slicesByService, key))
			b.Ports = onlyPort(b.Ports, port)
			b.TLS = t.backendTLSFor(ctx, svc, port, func() []collection.Entry[*routeResult] {
				return collection.FetchIndex(ctx, routesByBackend, name)
			})
			return b, true
		})
}

func splitBackendName(name string) (kind, key string, ok bool) {
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			return name[:i], name[i+1:], true
		}
	}
	return "", "", false
}

// serviceBackend joins a Service's ports with its EndpointSlices: each Service
// port's endpoints are the slice endpoints with the port of the same name.
func serviceBackend(name string, svc *corev1.Service, slices []collection.Entry[*discoveryv1.EndpointSlice]) *ir.Backend {
	b := &ir.Backend{Name: name}
	for _, sp := range svc.Spec.Ports {
		bp := ir.BackendPort{Port: sp.Port, Protocol: appProtocol(sp.AppProtocol)}
		for _, se := range slices {
			bp.Endpoints = append(bp.Endpoints, sliceEndpoints(se.Value, sp)...)
		}
		sort.Slice(bp.Endpoints, func(a, c int) bool {
			ea, ec := bp.Endpoints[a], bp.Endpoints[c]
			if ea.Address != ec.Address {
				return ea.Address < ec.Address
			}
			return ea.Port < ec.Port
		})
		b.Ports = append(b.Ports, bp)
	}
	return b
}

func sliceEndpoints(s *discoveryv1.EndpointSlice, sp corev1.ServicePort) []ir.Endpoint {
	var port int32 = -1
	for _, p := range s.Ports {
		pname := ""
		if p.Name != nil {
			pname = *p.Name
		}
		if pname == sp.Name && p.Port != nil {
			port = *p.Port
		}
	}
	if port < 0 {
		return nil
	}
	var out []ir.Endpoint
	for _, ep := range s.Endpoints {
		ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
		if ep.Conditions.Terminating != nil && *ep.Conditions.Terminating {
			ready = false
		}
		for _, addr := range ep.Addresses {
			out = append(out, ir.Endpoint{Address: addr, Port: port, Ready: ready})
		}
	}
	return out
}

func appProtocol(p *string) ir.AppProtocol {
	if p == nil {
		return ir.AppHTTP1
	}
	switch *p {
	case string(ir.AppH2C):
		return ir.AppH2C
	case string(ir.AppWS):
		return ir.AppWS
	case string(ir.AppWSS):
		return ir.AppWSS
	}
	return ir.AppHTTP1
}

// staticBackend translates a StaticBackend. Its port list has one entry per
// distinct endpoint port, plus port 0 (used by refs without a port) holding
// every endpoint.
func (t *Translator) staticBackend(ctx *collection.Ctx, name string, sb *v1alpha1.StaticBackend) *ir.Backend {
	proto := ir.AppHTTP1
	switch sb.Spec.Protocol {
	case "H2C":
		proto = ir.AppH2C
	case "WS":
		proto = ir.AppWS
	}
	all := ir.BackendPort{Port: 0, Protocol: proto}
	byPort := map[int32]*ir.BackendPort{}
	var ports []int32
	for _, ep := range sb.Spec.Endpoints {
		host, portStr, err := net.SplitHostPort(ep)
		if err != nil {
			continue // rejected by the source's validation; skip defensively
		}
		p, err := strconv.Atoi(portStr)
		if err != nil || p <= 0 || p > 65535 {
			continue
		}
		e := ir.Endpoint{Address: host, Port: int32(p), Ready: true}
		all.Endpoints = append(all.Endpoints, e)
		if byPort[e.Port] == nil {
			byPort[e.Port] = &ir.BackendPort{Port: e.Port, Protocol: proto}
			ports = append(ports, e.Port)
		}
		byPort[e.Port].Endpoints = append(byPort[e.Port].Endpoints, e)
	}
	b := &ir.Backend{Name: name, Ports: []ir.BackendPort{all}}
	sort.Slice(ports, func(a, c int) bool { return ports[a] < ports[c] })
	for _, p := range ports {
		b.Ports = append(b.Ports, *byPort[p])
	}
	if tl := sb.Spec.TLS; tl != nil {
		b.TLS = &ir.UpstreamTLS{ServerName: tl.ServerName, InsecureSkipVerify: tl.InsecureSkipVerify}
		if tl.CACertificateRef != nil {
			if cm, ok := collection.Fetch(ctx, t.in.ConfigMaps.Collection, sb.Namespace+"/"+tl.CACertificateRef.Name); ok {
				b.TLS.CACertPEM = []byte(cm.Data["ca.crt"])
			}
		}
	}
	t.llmBackend(ctx, sb, b)
	return b
}
