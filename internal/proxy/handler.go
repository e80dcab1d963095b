package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy/filter"
	"gatehouse.dev/gatehouse/internal/proxy/router"
	"gatehouse.dev/gatehouse/internal/proxy/upstream"
)

// bindHandler serves the requests of one bind against the current table.
type bindHandler struct {
	p      *Proxy
	bind   string
	port   int32
	scheme string
}

func (p *Proxy) handlerFor(b *ir.Bind) http.Handler {
	scheme := "http"
	if b.Protocol == ir.ProtocolHTTPS {
		scheme = "https"
	}
	return &bindHandler{p: p, bind: b.Name, port: b.Port, scheme: scheme}
}

// certificateFor picks the certificate of the listener that serves the SNI
// name on bind.
func (p *Proxy) certificateFor(bind string, hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	l := p.table.Load().Listener(bind, strings.ToLower(hello.ServerName))
	if l == nil {
		return nil, fmt.Errorf("no listener on %s for server name %q", bind, hello.ServerName)
	}
	certs := *p.certs.Load()
	var first *tls.Certificate
	for _, name := range l.Certificates {
		c := certs[name]
		if c == nil {
			continue
		}
		if first == nil {
			first = c
		}
		if hello.SupportsCertificate(c) == nil {
			return c, nil
		}
	}
	if first == nil {
		return nil, fmt.Errorf("listener %s has no usable certificate", l.Name)
	}
	return first, nil
}

func (h *bindHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	obs := h.p.opts.Observer
	if obs == nil {
		h.serve(w, r, nil)
		return
	}
	info := RequestInfo{Start: time.Now(), Bind: h.bind}
	r = obs.Begin(r)
	ow := &observedWriter{ResponseWriter: w}
	h.serve(ow, r, &info)
	info.Request, info.Duration, info.Status, info.BytesWritten = r, time.Since(info.Start), ow.status, ow.bytes
	obs.End(&info)
}

// serve routes and answers one request. info, when not nil, is filled with
// what an Observer reports.
func (h *bindHandler) serve(w http.ResponseWriter, r *http.Request, info *RequestInfo) {
	host := requestHost(r.Host)
	table := h.p.table.Load()
	// Policy state exists only when policies are configured, so a proxy
	// without them pays nothing for the feature.
	var ps *policyState
	pset := h.p.policies.Load()
	if pset.Len() > 0 {
		ps = &policyState{start: time.Now()}
		defer ps.release()
		if l := table.Listener(h.bind, host); l != nil {
			if h.serveModels(w, r, pset, l) || !h.preRoute(w, ps, pset, l, r) {
				return
			}
		}
	}
	res := table.Match(h.bind, host, r)
	if info != nil && res.Listener != nil {
		info.Gateway, info.Listener = res.Listener.Gateway, res.Listener.Name
		if res.Route != nil {
			info.Route = res.Route.IR.Name
		}
	}
	if r.TLS != nil && r.TLS.ServerName != "" && res.Listener != nil {
		// A connection set up for one listener's certificate must not be used
		// to reach another listener (connection coalescing across hosts).
		if sni := table.Listener(h.bind, strings.ToLower(r.TLS.ServerName)); sni != res.Listener {
			http.Error(w, "misdirected request: the TLS server name does not serve this host", http.StatusMisdirectedRequest)
			return
		}
	}
	if res.Route == nil {
		http.Error(w, "no route for "+host+r.URL.Path, http.StatusNotFound)
		return
	}
	if ps != nil && !h.authorizeAndTransform(w, r, ps, pset, res.Listener, res.Route.IR) {
		return
	}
	if ps != nil && ps.applicable.HasAccessLog() {
		ow := &observedWriter{ResponseWriter: w}
		h.serveRoute(ow, r, res, info, ps)
		h.writeAccessLog(ps, ow.status, ow.bytes)
		return
	}
	h.serveRoute(w, r, res, info, ps)
}

func (h *bindHandler) serveRoute(w http.ResponseWriter, r *http.Request, res router.Result, info *RequestInfo, ps *policyState) {
	rt := res.Route
	mi := filter.MatchInfo{MatchedPrefix: res.MatchedPrefix, ListenerPort: h.port, Scheme: h.scheme}
	if rt.Filters.Request(w, r, mi) {
		return // answered by a redirect or a CORS preflight
	}
	be := rt.PickBackend()
	if be == nil || be.IR.Invalid != "" {
		msg := "the route has no valid backend"
		if be != nil {
			msg = "invalid backend reference: " + be.IR.Invalid
		}
		h.p.log.Debug("route has no valid backend", "route", rt.IR.Name, "reason", msg)
		http.Error(w, msg, http.StatusInternalServerError)
		return
	}
	if info != nil {
		info.Backend = be.IR.Backend
	}
	if be.Filters.Request(w, r, mi) {
		return
	}
	h.mirror(r, rt.Filters.Mirrors(), be.Filters.Mirrors())
	// Outside the LLM writer, so that it sees the upstream's body; finished
	// after it (defers run last first), so llm.* is complete by then.
	w, finishBody := ps.replaceResponseBody(w)
	defer finishBody()
	// After mirroring: mirrors get the client's request, never the LLM
	// backend's API key.
	w, done, ok := h.llmExchange(w, r, ps, info, be.IR.Backend)
	if !ok {
		return
	}
	defer done()
	if t := rt.IR.Timeouts.Request; t > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), t)
		defer cancel()
		r = r.WithContext(ctx)
	}
	var upstreamDone func(status int)
	if uo, ok := h.p.opts.Observer.(UpstreamObserver); ok {
		r, upstreamDone = uo.BeginUpstream(r, be.IR.Backend)
	}
	h.p.upstreams.Forward(w, r, upstream.Target{
		Backend: be.IR.Backend,
		Port:    be.IR.Port,
		Timeout: rt.IR.Timeouts.BackendRequest,
		Retry:   rt.IR.Retry,
		ModifyResponse: func(hdr http.Header) {
			be.Filters.Response(hdr, r)
			rt.Filters.Response(hdr, r)
			ps.transformResponse(hdr)
		},
	})
	if upstreamDone != nil {
		upstreamDone(statusWritten(w))
	}
}

// mirror sends copies of r to the mirror backends. The body is buffered (up
// to MaxMirrorBody) so both the main request and the copies can read it.
func (h *bindHandler) mirror(r *http.Request, lists ...[]ir.Mirror) {
	var mirrors []ir.Mirror
	for _, l := range lists {
		for _, m := range l {
			if m.Percent >= 100 || rand.Float64()*100 < m.Percent {
				mirrors = append(mirrors, m)
			}
		}
	}
	if len(mirrors) == 0 {
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(r.Body, h.p.opts.MaxMirrorBody+1))
		if err != nil || int64(len(body)) > h.p.opts.MaxMirrorBody {
			// Too large (or unreadable) to copy: forward the original stream
			// without mirroring rather than fail the request.
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
			h.p.log.Debug("request not mirrored: body too large or unreadable", "error", errors.Join(err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}
	for _, m := range mirrors {
		h.p.upstreams.Mirror(r, upstream.Target{Backend: m.Backend.Backend, Port: m.Backend.Port})
	}
}

// requestHost returns the request host without port, lower-cased.
func requestHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		if c := host[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}
