package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/cel"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy/llm"
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
	// llm is the inspected body and the model found in it; llmInfo backs
	// the CEL llm variable (no allocation: the state is one object).
	llm     llm.Exchange
	llmInfo cel.LLMInfo
}

var celContexts = sync.Pool{New: func() any { return new(cel.Context) }}

// context returns the request's CEL context, filling it on first use.
func (ps *policyState) context(r *http.Request) *cel.Context {
	if ps.ctx == nil {
		ps.ctx = celContexts.Get().(*cel.Context)
		ps.ctx.Request, ps.ctx.Start = r, ps.start
		if ps.llm.Body.State == llm.BodyComplete {
			ps.ctx.Body = ps.llm.Body.Decoded
		}
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

// inspectBody buffers the request body for inspection, once per request,
// up to max bytes (decoding gzip/deflate for inspection; the upstream gets
// the bytes as sent). A client that trickles its body holds only its own
// request: the listener's minimum body rate (listener.Options.MinBodyRate
// after BodyRateGrace) cuts it off. It returns false when the body could
// not be read; the response is then written (408 when the client was too
// slow, 400 otherwise) and the connection closed.
func (h *bindHandler) inspectBody(w http.ResponseWriter, r *http.Request, ps *policyState, max int64) bool {
	if ps.bodyRead {
		return true
	}
	ps.bodyRead = true
	body, err := llm.ReadBody(r, max)
	if err != nil {
		w.Header().Set("Connection", "close")
		if bodyTooSlow(err) {
			llm.WriteError(w, http.StatusRequestTimeout, "the request body was not received in time", llm.TypeInvalidRequest, llm.CodeBodyTimeout)
		} else {
			llm.WriteError(w, http.StatusBadRequest, "the request body could not be read", llm.TypeInvalidRequest, llm.CodeInvalidBody)
		}
		h.p.log.Debug("request body not read", "error", err)
		return false
	}
	ps.llm.Body = body
	if body.State == llm.BodyComplete && ps.ctx != nil {
		ps.ctx.Body = body.Decoded
	}
	return true
}

// bodyTooSlow reports whether a body read failed on a deadline: a network
// timeout, or the listener's minimum-rate guard (which reports its own
// error, matched by its text since the listener does not export it).
func bodyTooSlow(err error) bool {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return true
	}
	return strings.Contains(err.Error(), "slower than the minimum rate")
}

// preRoute applies the pre-routing section of the listener that serves the
// request, before the route is selected: the model shorthand, then the CEL
// headers. Each header is removed before it is computed, so a client never
// supplies it. It returns false when the request was rejected (reject mode;
// the response is written).
func (h *bindHandler) preRoute(w http.ResponseWriter, ps *policyState, set *policy.Set, l *ir.Listener, r *http.Request) bool {
	pre := set.PreRouting(l.Gateway, l.Name)
	if pre == nil {
		return true
	}
	ctx := ps.context(r)
	ctx.Gateway, ctx.Listener = l.Gateway, l.Name
	if pre.PreRoutingReadsBody() && !h.inspectBody(w, r, ps, pre.MaxPreRoutingBody(h.p.opts.MaxPolicyBody)) {
		return false
	}
	if hdr := pre.ModelHeader(); hdr != "" {
		delete(r.Header, hdr)
		ps.llm.Scan()
		if ps.llm.ScanErr == nil {
			r.Header[hdr] = []string{ps.llm.Model.Model}
			ps.llmInfo.RequestModel = ps.llm.Model.Model
			ctx.LLM = &ps.llmInfo
		} else if pre.RejectsOnFailure() && mayCarryBody(r) {
			status, msg, code := llm.BodyError(ps.llm.Body.State, ps.llm.ScanErr)
			llm.WriteError(w, status, msg, llm.TypeInvalidRequest, code)
			return false
		}
	}
	if failed := pre.SetPreRoutingHeaders(ctx, r); failed != "" && pre.RejectsOnFailure() && mayCarryBody(r) {
		if ps.llm.Body.State == llm.BodyTooLarge {
			status, msg, code := llm.BodyError(llm.BodyTooLarge, nil)
			llm.WriteError(w, status, msg, llm.TypeInvalidRequest, code)
		} else {
			llm.WriteError(w, http.StatusBadRequest, "the request does not provide "+failed, llm.TypeInvalidRequest, llm.CodeInvalidBody)
		}
		return false
	}
	return true
}

// mayCarryBody reports whether reject mode applies: requests with a body,
// or whose method normally has one. A bodiless GET (a health check, a
// model list) falls through instead of being refused.
func mayCarryBody(r *http.Request) bool {
	if r.ContentLength != 0 {
		return true
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return true
	}
	return false
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
	if ps.applicable.Uses().RequestBody && !h.inspectBody(w, r, ps, h.p.opts.MaxPolicyBody) {
		return false
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

// replaceResponseBody wraps w when a response body expression applies to the
// request; finish must run once the upstream response has been copied. With
// no such expression w is returned as is, so responses stream untouched.
func (ps *policyState) replaceResponseBody(w http.ResponseWriter) (_ http.ResponseWriter, finish func()) {
	if ps == nil || ps.ctx == nil || len(ps.applicable) == 0 {
		return w, noop
	}
	prog := ps.applicable.ResponseBody()
	if prog == nil {
		return w, noop
	}
	br := policy.NewBodyReplacer(w, ps.ctx, prog, policy.MaxResponseBody)
	return br, br.Finish
}
