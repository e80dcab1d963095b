package telemetry

import (
	"net/http"
	"time"

	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/proxy/l4"
)

// Observer is the proxy.Observer that feeds metrics, the access log and
// tracing. Any of them may be nil.
type Observer struct {
	metrics *ProxyMetrics
	log     *AccessLog
	tracer  *Tracer
}

// NewObserver combines the enabled outputs. It returns nil (not a typed nil)
// when all are nil, so the proxy takes its unobserved fast path.
func NewObserver(m *ProxyMetrics, l *AccessLog, t *Tracer) proxy.Observer {
	if m == nil && l == nil && t == nil {
		return nil
	}
	return &Observer{metrics: m, log: l, tracer: t}
}

var (
	_ proxy.UpstreamObserver = (*Observer)(nil)
	_ proxy.L4Observer       = (*Observer)(nil)
)

// EndConn implements proxy.L4Observer: a TLS or TCP listener's connection
// is counted and, when sampled, logged.
func (o *Observer) EndConn(info *l4.ConnInfo) {
	if o.metrics != nil {
		o.metrics.endConn(info)
	}
	if o.log != nil && o.log.sampled() {
		o.log.logConn(info)
	}
}

// Begin implements proxy.Observer.
func (o *Observer) Begin(r *http.Request) *http.Request {
	st := &requestState{}
	ctx := r.Context()
	if o.tracer != nil {
		ctx, st.span = o.tracer.begin(r, time.Now())
	}
	if o.metrics != nil {
		o.metrics.begin()
	}
	if o.log != nil {
		st.logSampled = o.log.sampled()
	}
	return withState(r, ctx, st, o.metrics != nil || o.log != nil)
}

// BeginUpstream implements proxy.UpstreamObserver: with tracing on, the
// upstream call gets a client span.
func (o *Observer) BeginUpstream(r *http.Request, backend string) (*http.Request, func(status int)) {
	if o.tracer == nil {
		return r, nil
	}
	r, span := o.tracer.beginClient(r, backend)
	return r, func(status int) { endClient(span, status) }
}

// End implements proxy.Observer.
func (o *Observer) End(info *proxy.RequestInfo) {
	st := stateFrom(info.Request)
	if o.metrics != nil {
		o.metrics.end(info, st)
	}
	if o.log != nil && (st == nil || st.logSampled) {
		o.log.log(info, st)
	}
	if o.tracer != nil && st != nil && st.span != nil {
		o.tracer.end(st.span, info)
	}
}
