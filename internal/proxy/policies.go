package proxy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/cel"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy/policy"
)

// policyState is the per-request policy work: a pooled CEL context and the
// applicable policies. It exists only when policies are configured; a nil
// *policyState means "no policies".
type policyState struct {
	start      time.Time
	ctx        *cel.Context
	applicable policy.Applicable
	bodyRead   bool
}

var celContexts = sync.Pool{New: func() any { return new(cel.Context) }}

// context returns the request's CEL context, filling it on first use.
func (ps *policyState) context(r *http.Request) *cel.Context {
	if ps.ctx == nil {
		ps.ctx = celContexts.Get().(*cel.Context)
		ps.ctx.Request, ps.ctx.Start = r, ps.start
		if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			ps.ctx.Source.Address = host
			if n, err := strconv.Atoi(port); err == nil {
				ps.ctx.Source.Port = n
			}
		}
	}
	return ps.ctx
}

func (ps *policyState) release() {
	if ps.ctx != nil {
		ps.ctx.Reset()
		celContexts.Put(ps.ctx)
		ps.ctx = nil
	}
}

// readBody buffers up to max bytes of the request body for expressions that
// read it, and puts the bytes back in front of the rest of the stream so the
// upstream receives the body intact. A body over max is not exposed.
func (ps *policyState) readBody(r *http.Request, max int64) {
	if ps.bodyRead || r.Body == nil || r.Body == http.NoBody {
		return
	}
	ps.bodyRead = true
	buf, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err == nil && int64(len(buf)) <= max {
		ps.ctx.Body = buf
		r.Body = io.NopCloser(bytes.NewReader(buf))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
		return
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
}

// preRoute applies the pre-routing headers of the listener that serves the
// request, before the route is selected.
func (h *bindHandler) preRoute(ps *policyState, set *policy.Set, l *ir.Listener, r *http.Request) {
	pre := set.PreRouting(l.Gateway, l.Name)
	if pre == nil {
		return
	}
	ctx := ps.context(r)
	ctx.Gateway, ctx.Listener = l.Gateway, l.Name
	if pre.Uses().RequestBody {
		ps.readBody(r, h.p.opts.MaxPolicyBody)
	}
	pre.SetPreRoutingHeaders(ctx, r)
}

// authorizeAndTransform applies authorization and request transformations
// for the matched route. It returns false when the request was denied (the
// response is written).
func (h *bindHandler) authorizeAndTransform(w http.ResponseWriter, r *http.Request, ps *policyState, set *policy.Set,
	l *ir.Listener, route *ir.Route) bool {
	var buf [8]*policy.Compiled
	ps.applicable = set.ForRequest(l.Gateway, l.Name, route.RouteName, route.Name, buf[:0])
	if len(ps.applicable) == 0 {
		return true
	}
	ctx := ps.context(r)
	ctx.Gateway, ctx.Listener, ctx.Route = l.Gateway, l.Name, route.RouteName
	if ps.applicable.Uses().RequestBody {
		ps.readBody(r, h.p.opts.MaxPolicyBody)
	}
	claims, reason, ok := ps.applicable.Authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "unauthorized: "+reason, http.StatusUnauthorized)
		return false
	}
	ctx.JWT = claims
	if status, body, ok := ps.applicable.Authorize(ctx); !ok {
		if status < 100 || status > 599 {
			status = http.StatusForbidden
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		return false
	}
	ps.applicable.TransformRequest(ctx, r)
	return true
}

// transformResponse applies the response transformation to upstream headers.
func (ps *policyState) transformResponse(hdr http.Header) {
	if ps == nil || len(ps.applicable) == 0 || ps.ctx == nil || !ps.applicable.HasResponseTransform() {
		return
	}
	ps.ctx.Response = &cel.ResponseInfo{Headers: hdr}
	ps.applicable.TransformResponse(ps.ctx, hdr)
}

// writeAccessLog writes the access-log line of the most specific policy with
// an access-log section, once the response is complete.
func (h *bindHandler) writeAccessLog(ps *policyState, status int, size int64) {
	if ps.ctx == nil {
		return
	}
	ps.ctx.Response = &cel.ResponseInfo{Code: status, Size: size, Duration: time.Since(ps.start)}
	if line := ps.applicable.AccessLogLine(ps.ctx, ps.start); line != nil {
		h.p.accessLogMu.Lock()
		_, _ = h.p.accessLog.Write(line)
		h.p.accessLogMu.Unlock()
	}
}
