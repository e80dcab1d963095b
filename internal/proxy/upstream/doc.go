// Package upstream keeps the proxy's backend pools and forwards requests to
// them.
//
// A Registry holds one compiled pool per ir.Backend. Each pool knows, per
// backend port, the endpoints that serve it and how to talk to them (plain
// HTTP/1.1, h2c, WebSocket, or TLS). Endpoint state (outstanding requests,
// consecutive failures, ejection) lives in one record per endpoint address of
// a backend and survives config updates, so health learned by one route is
// used by every route and is not forgotten when the control plane pushes a new
// version of the backend (design §4.4).
//
// Forwarding is built on httputil.ReverseProxy with Rewrite. There is one
// shared ReverseProxy and Transport per protocol kind (HTTP/1.1 and h2c), and
// one pair per backend that originates TLS, so keep-alive connections are
// pooled across routes.
//
// Load balancing is power of two choices on outstanding requests: two
// distinct endpoints are drawn at random and the one with fewer requests in
// flight wins. Only ready endpoints are used unless none is ready.
//
// Passive health checking ejects an endpoint after Options.EjectAfter
// consecutive failures (connect errors, transport errors, per-try timeouts and
// 5xx responses) for Options.EjectFor, doubling on every repeated ejection up
// to five minutes; a successful response resets both counters. A client that
// goes away is never counted against an endpoint.
//
// Panic mode: when every candidate endpoint of a port is ejected, the balancer
// still picks among them (as Envoy does below its panic threshold) instead of
// answering 503. Ejection exists to steer traffic to healthy peers; when there
// are none, refusing all traffic would turn a partial outage into a full one,
// and the ejected endpoint may well have recovered. 503 is therefore returned
// only when a port has no endpoints at all.
//
// Status codes follow the Gateway API: 500 for an unknown backend or port,
// 503 for a port without endpoints, 502 for connect and transport failures,
// 504 when Target.Timeout expires before the response completes.
package upstream
