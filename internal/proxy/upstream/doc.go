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
// Forwarding has two paths. Plain HTTP/1.1 requests to cleartext HTTP/1.1
// endpoints (the common case) take the fast path (fastpath.go): a pooled
// keep-alive connection per endpoint is used on the handler's own goroutine,
// the request head is written straight from the inbound request (hop-by-hop
// fields and the client's X-Forwarded-* dropped, this hop's added, no
// outbound header map), the response head is parsed into the client's
// header map with two allocations, and the body is copied out of the
// connection's read buffer, flushed only when the next upstream read would
// block (so a small response leaves in one write with its head, and streams
// such as SSE are not held back). There is no per-connection read or write
// goroutine, so no hand-offs between goroutines per request. Bodies up to
// 32 KiB are read before sending, so an idempotent request that meets a
// connection the upstream closed while idle is sent again on a new one;
// idle connections are checked with a non-blocking peek before a request
// that cannot be repeated uses them.
//
// Everything else goes through httputil.ReverseProxy with Rewrite:
// protocol upgrades (WebSocket), Expect: 100-continue, request trailers,
// bodies of unknown length or over 32 KiB, h2c and TLS upstreams, and
// mirrors. There is one shared ReverseProxy and Transport per protocol kind
// (HTTP/1.1 and h2c), and one pair per backend that originates TLS, so
// keep-alive connections are pooled across routes. Options.ReverseProxyOnly
// sends every request this way.
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
// Retries (Target.Retry, an HTTPRoute rule's retry; retry.go) wrap the
// try of one endpoint in a loop. Each try decides before any byte of the
// final response is written to the client: on the fast path once the
// response head is read, on the ReverseProxy path in ModifyResponse and the
// ErrorHandler. So responses are never buffered; a retried answer is
// dropped with its connection, and nothing is retried once a response head
// went to the client. Listed statuses are retried, and so are failures
// before a response head (connect errors, resets, per-try timeouts). Only
// replayable requests are retried: no body, or a body of at most 64 KiB,
// which is read first (only on routes with retries). Retries prefer an
// endpoint not yet tried, wait at least the backoff (doubling, capped at
// ten times it, with jitter), and are not made when the wait would outlast
// the request's deadline (the route timeout); the per-try Timeout applies
// to each try. A keep-alive connection found closed is still resent once
// inside a try, as before, and does not count as a retry.
//
// Status codes follow the Gateway API: 500 for an unknown backend or port,
// 503 for a port without endpoints, 502 for connect and transport failures,
// 504 when Target.Timeout expires before the response completes (or the
// request's own deadline, the route timeout, passes: "request timeout").
// On the fast path a response head the upstream gets wrong (obsolete line
// folding, conflicting lengths, an unknown transfer coding, an unasked
// upgrade) is a 502, and a client whose request body cannot be read gets
// 400. A body that breaks off after the head was sent aborts the client's
// response (http.ErrAbortHandler), as ReverseProxy does.
package upstream
