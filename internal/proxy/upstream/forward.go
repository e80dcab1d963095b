package upstream

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// Target says where Forward and Mirror send a request.
type Target struct {
	// Backend is the ir.Backend Name.
	Backend string
	// Port is the ir.BackendRef Port; 0 selects the backend's first port.
	Port int32
	// Timeout bounds one try, from sending the request until the response
	// body has been received (Gateway API backendRequest); 0 means none.
	// For a protocol upgrade it bounds only the wait for the 101 response.
	Timeout time.Duration
	// ModifyResponse is called with the upstream response headers before
	// they are written to the client (response header filters). May be nil.
	ModifyResponse func(h http.Header)
	// Retry, when set, sends the request again on the listed statuses and
	// on failures before a response (retry.go). Timeout bounds each try;
	// the request's context deadline bounds them all. Mirrors ignore it.
	Retry *ir.Retry
}

// attempt is one try of a request against one endpoint. It is the context of
// the outbound request, so the shared ReverseProxy callbacks find it without
// an extra allocation for a context value.
type attempt struct {
	context.Context // cancelable child of the inbound request context

	parent   context.Context // the inbound request context
	reg      *Registry
	backend  string
	ep       *endpoint
	target   *Target
	scheme   string
	mirror   bool
	cancel   context.CancelFunc
	timer    *time.Timer
	timedOut atomic.Bool
	answered atomic.Bool // the endpoint sent response headers
	retry    *retryState // nil without retries
	retrying bool        // this try's outcome is dropped for another try
}

type attemptKey struct{}

// Value implements context.Context.
func (a *attempt) Value(key any) any {
	if key == (attemptKey{}) {
		return a
	}
	return a.Context.Value(key)
}

func attemptFrom(ctx context.Context) *attempt {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	return a
}

// expire runs when Target.Timeout fires.
func (a *attempt) expire() {
	a.timedOut.Store(true)
	a.cancel()
}

// Forward proxies req to one endpoint of t and writes the response to w.
// Errors are answered with 500 (unknown backend or port), 503 (no endpoint),
// 502 (connect or transport failure) or 504 (Timeout expired), each with a
// short plain-text body, and logged at Warn.
func (r *Registry) Forward(w http.ResponseWriter, req *http.Request, t Target) {
	r.forward(w, req, &t, false)
}

func (r *Registry) forward(w http.ResponseWriter, req *http.Request, t *Target, mirror bool) {
	b := r.lookup(t.Backend)
	if b == nil {
		r.reject(w, req, t, mirror, http.StatusInternalServerError, "unknown backend")
		return
	}
	pool := b.port(t.Port)
	if pool == nil {
		r.reject(w, req, t, mirror, http.StatusInternalServerError, "unknown backend port")
		return
	}
	if t.Retry != nil && !mirror {
		r.forwardWithRetries(w, req, t, b.name, pool)
		return
	}
	ep := pickEndpoint(pool.candidates(), r.now().UnixNano())
	if ep == nil {
		r.reject(w, req, t, mirror, http.StatusServiceUnavailable, "no healthy upstream")
		return
	}
	r.try(w, req, t, b.name, pool, ep, mirror, nil)
}

// try forwards req to ep once. It reports whether the try asks for
// another one, which only s can allow; then it has written nothing to w.
func (r *Registry) try(w http.ResponseWriter, req *http.Request, t *Target, backend string, pool *portPool, ep *endpoint, mirror bool, s *retryState) bool {
	ep.outstanding.Add(1)
	if pool.fast && !mirror && !r.opts.ReverseProxyOnly && fastEligible(req) {
		defer ep.outstanding.Add(-1) // deferred: the fast path may panic(http.ErrAbortHandler)
		return r.forwardH1(w, req, t, backend, ep, s)
	}
	return r.forwardReverseProxy(w, req, t, backend, ep, pool, mirror, s)
}

// forwardReverseProxy forwards through the pool's httputil.ReverseProxy:
// upgrades, h2c, TLS upstreams, streamed uploads and mirrors.
func (r *Registry) forwardReverseProxy(w http.ResponseWriter, req *http.Request, t *Target, backend string, ep *endpoint, pool *portPool, mirror bool, s *retryState) bool {
	ctx, cancel := context.WithCancel(req.Context())
	a := &attempt{
		Context: ctx, parent: req.Context(), reg: r, backend: backend, ep: ep,
		target: t, scheme: pool.scheme, mirror: mirror, cancel: cancel, retry: s,
	}
	if t.Timeout > 0 {
		a.timer = time.AfterFunc(t.Timeout, a.expire)
	}
	// Deferred so the counter is right even when ReverseProxy aborts the
	// response with panic(http.ErrAbortHandler).
	defer func() {
		ep.outstanding.Add(-1)
		if a.timer != nil {
			a.timer.Stop()
		}
		cancel()
	}()
	pool.proxy.ServeHTTP(w, req.WithContext(a))
	return a.retrying
}

// rewrite points the outbound request at the chosen endpoint. The Host
// header is left as the inbound req.Host (Gateway API keeps the client's
// host; a URL rewrite filter changes req.Host before Forward).
// X-Forwarded-For/-Host/-Proto are set from this hop only: forwarding
// headers sent by the client are dropped, since nothing yet says which
// clients are trusted proxies.
func rewrite(pr *httputil.ProxyRequest) {
	a := attemptFrom(pr.Out.Context())
	pr.Out.URL.Scheme = a.scheme
	pr.Out.URL.Host = a.ep.addr
	pr.SetXForwarded()
	// Cleartext HTTP/2 by Upgrade is a hop-by-hop negotiation with the
	// client; it must not be forwarded as a tunnel request.
	if strings.EqualFold(pr.Out.Header.Get("Upgrade"), "h2c") {
		pr.Out.Header.Del("Upgrade")
		pr.Out.Header.Del("Connection")
		pr.Out.Header.Del("Http2-Settings")
	}
}

// modifyResponse records the endpoint's health and applies the caller's
// response header changes.
func (r *Registry) modifyResponse(res *http.Response) error {
	a := attemptFrom(res.Request.Context())
	a.answered.Store(true)
	if a.retry.retriesStatus(a.parent, res.StatusCode) {
		if res.StatusCode >= 500 {
			r.recordFailure(a)
		}
		a.retrying = true
		return errRetry // ReverseProxy closes the body and calls errorHandler
	}
	if res.StatusCode == http.StatusSwitchingProtocols && a.timer != nil {
		// The tunnel outlives the per-try timeout.
		a.timer.Stop()
	}
	if res.StatusCode >= 500 {
		r.recordFailure(a)
	} else {
		a.ep.recordSuccess()
	}
	if a.target.ModifyResponse != nil {
		a.target.ModifyResponse(res.Header)
	}
	return nil
}

func (r *Registry) recordFailure(a *attempt) { r.recordFailureAt(a.backend, a.ep) }

func (r *Registry) recordFailureAt(backend string, ep *endpoint) {
	if d := ep.recordFailure(r.now(), r.opts.EjectAfter, r.opts.EjectFor); d > 0 {
		r.log.Warn("upstream endpoint ejected", "backend", backend, "endpoint", ep.addr, "for", d)
	}
}

// errorHandler answers a failed try and decides whether it counts against
// the endpoint.
func (r *Registry) errorHandler(w http.ResponseWriter, req *http.Request, err error) {
	a := attemptFrom(req.Context())
	if a == nil { // not one of ours; cannot happen with Forward
		writeError(w, http.StatusBadGateway, "upstream request failed")
		return
	}
	if a.retrying || r.retryAfterError(a, req, err) {
		return // the next try answers
	}
	switch {
	case a.answered.Load():
		// The endpoint responded; a later failure (e.g. during an
		// upgrade hand-over) is not its health problem.
		r.logf(a, slog.LevelWarn, "upstream response failed", req, err)
		writeError(w, http.StatusBadGateway, "upstream response failed")
	case a.timedOut.Load():
		r.recordFailure(a)
		r.logf(a, slog.LevelWarn, "upstream timeout", req, err)
		writeError(w, http.StatusGatewayTimeout, "upstream timeout")
	case errors.Is(a.parent.Err(), context.DeadlineExceeded):
		// The route's request timeout (a deadline on the incoming request)
		// fired: the whole request took too long, not this endpoint's fault.
		r.logf(a, slog.LevelWarn, "request timeout", req, err)
		writeError(w, http.StatusGatewayTimeout, "request timeout")
	case a.parent.Err() != nil:
		// The client went away; nobody reads this answer and the
		// endpoint is not to blame.
		r.logf(a, slog.LevelDebug, "client canceled request", req, err)
		writeError(w, http.StatusBadGateway, "client canceled request")
	case isDialError(err):
		r.recordFailure(a)
		r.logf(a, slog.LevelWarn, "upstream connect error", req, err)
		writeError(w, http.StatusBadGateway, "upstream connect error")
	default:
		r.recordFailure(a)
		r.logf(a, slog.LevelWarn, "upstream request failed", req, err)
		writeError(w, http.StatusBadGateway, "upstream request failed")
	}
}

// retryAfterError reports whether a failure before any response head is
// left to another try, counting it against the endpoint. The client going
// away and the route's request timeout are never retried (allow checks the
// inbound context).
func (r *Registry) retryAfterError(a *attempt, req *http.Request, err error) bool {
	if a.answered.Load() || !a.retry.allow(a.parent) {
		return false
	}
	r.recordFailure(a)
	r.logf(a, slog.LevelDebug, "upstream try failed, retrying", req, err)
	a.retrying = true
	return true
}

func (r *Registry) logf(a *attempt, level slog.Level, msg string, req *http.Request, err error) {
	r.logEvent(a.parent, level, msg, a.backend, a.ep, a.mirror, req, err)
}

func (r *Registry) logEvent(ctx context.Context, level slog.Level, msg, backend string, ep *endpoint, mirror bool, req *http.Request, err error) {
	r.log.Log(ctx, level, msg, "backend", backend, "endpoint", ep.addr,
		"method", req.Method, "path", req.URL.Path, "mirror", mirror, "error", err)
}

// reject answers a request that could not be sent anywhere.
func (r *Registry) reject(w http.ResponseWriter, req *http.Request, t *Target, mirror bool, code int, msg string) {
	r.log.Warn(msg, "backend", t.Backend, "port", t.Port, "status", code,
		"method", req.Method, "path", req.URL.Path, "mirror", mirror)
	writeError(w, code, msg)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// writeError writes a short plain-text error response.
func writeError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}
