package telemetry

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/proxy/l4"
)

// ProxyMetrics holds the data-plane metrics. It is safe for concurrent use.
type ProxyMetrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	requestSize   *prometheus.HistogramVec
	responseSize  *prometheus.HistogramVec
	active        prometheus.Gauge
	connectErrors *prometheus.CounterVec
	upstreamConns *prometheus.CounterVec

	downActive *prometheus.GaugeVec
	downTotal  *prometheus.CounterVec
	// conns caches the per-bind connection series (binds are few).
	conns sync.Map // bind -> *connSeries

	configVersion    prometheus.Gauge
	configApplies    prometheus.Counter
	configRejected   prometheus.Gauge
	configRejections *prometheus.CounterVec
	llmTokens        *prometheus.CounterVec
	l4Conns          *prometheus.CounterVec
	l4Duration       *prometheus.HistogramVec
	l4Bytes          *prometheus.CounterVec

	// series caches the resolved children per label set, so a request does
	// one map lookup under a read lock instead of four label hashes.
	mu     sync.RWMutex
	series map[seriesKey]*requestSeries
}

// seriesKey is one label set of the request metrics.
type seriesKey struct {
	gateway, listener, route, backend string
	class                             uint8
}

type requestSeries struct {
	requests                        prometheus.Counter
	duration, requestSize, respSize prometheus.Observer
}

// NewProxyMetrics creates the data-plane metrics and registers them on reg.
func NewProxyMetrics(reg prometheus.Registerer) *ProxyMetrics {
	m := &ProxyMetrics{
		requests:         specRequests.counterVec(),
		duration:         specDuration.histogramVec(),
		requestSize:      specRequestSize.histogramVec(),
		responseSize:     specResponseSize.histogramVec(),
		active:           specActive.gauge(),
		connectErrors:    specConnectErrors.counterVec(),
		upstreamConns:    specUpstreamConns.counterVec(),
		downActive:       specDownstreamActive.gaugeVec(),
		downTotal:        specDownstreamTotal.counterVec(),
		configVersion:    specConfigVersion.gauge(),
		configApplies:    specConfigApplies.counter(),
		configRejected:   specConfigRejected.gauge(),
		configRejections: specConfigRejections.counterVec(),
		llmTokens:        specLLMTokens.counterVec(),
		l4Conns:          specL4Conns.counterVec(),
		l4Duration:       specL4Duration.histogramVec(),
		l4Bytes:          specL4Bytes.counterVec(),
		series:           map[seriesKey]*requestSeries{},
	}
	reg.MustRegister(m.requests, m.duration, m.requestSize, m.responseSize, m.active, m.connectErrors,
		m.upstreamConns, m.downActive, m.downTotal, m.configVersion, m.configApplies, m.configRejected, m.configRejections, m.llmTokens,
		m.l4Conns, m.l4Duration, m.l4Bytes)
	return m
}

// classes are the values of the code_class label, indexed by status/100.
var classes = [...]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(code int) uint8 {
	if c := code / 100; c >= 1 && c <= 5 {
		return uint8(c)
	}
	return 0 // nothing was written (client went away) or a bogus code
}

// routeLabel turns an IR route name ("namespace/httproute/rule") into the
// HTTPRoute's "namespace/name": one series per HTTPRoute, not per rule.
func routeLabel(irName string) string {
	if strings.Count(irName, "/") >= 2 {
		return irName[:strings.LastIndexByte(irName, '/')]
	}
	return irName
}

func (m *ProxyMetrics) seriesFor(k seriesKey) *requestSeries {
	m.mu.RLock()
	s := m.series[k]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	labels := []string{k.gateway, k.listener, k.route, k.backend, classes[k.class]}
	s = &requestSeries{
		requests:    m.requests.WithLabelValues(labels...),
		duration:    m.duration.WithLabelValues(labels...),
		requestSize: m.requestSize.WithLabelValues(labels...),
		respSize:    m.responseSize.WithLabelValues(labels...),
	}
	m.mu.Lock()
	if prev := m.series[k]; prev != nil {
		s = prev
	} else {
		m.series[k] = s
	}
	m.mu.Unlock()
	return s
}

// begin counts a request in flight.
func (m *ProxyMetrics) begin() { m.active.Inc() }

// end records a finished request.
func (m *ProxyMetrics) end(info *proxy.RequestInfo, st *requestState) {
	m.active.Dec()
	k := seriesKey{gateway: info.Gateway, listener: info.Listener, route: routeLabel(info.Route),
		backend: info.Backend, class: statusClass(info.Status)}
	s := m.seriesFor(k)
	s.requests.Inc()
	s.duration.Observe(info.Duration.Seconds())
	s.respSize.Observe(float64(info.BytesWritten))
	var reqBytes int64
	if st != nil {
		reqBytes = st.bodyBytes()
		if n := st.connectErrors.Load(); n > 0 {
			m.connectErrors.WithLabelValues(k.gateway, k.listener, k.route, k.backend).Add(float64(n))
		}
		if n := st.connectsOpened.Load(); n > 0 && k.backend != "" {
			m.upstreamConns.WithLabelValues(k.backend).Add(float64(n))
		}
	}
	s.requestSize.Observe(float64(reqBytes))
	if l := info.LLM; l != nil && (l.PromptTokens > 0 || l.CompletionTokens > 0) {
		m.llmTokens.WithLabelValues(k.backend, info.LLMModelLabel, "prompt").Add(float64(l.PromptTokens))
		m.llmTokens.WithLabelValues(k.backend, info.LLMModelLabel, "completion").Add(float64(l.CompletionTokens))
	}
}

// endConn records a finished layer-4 connection. Connections are few and
// long next to requests, so the label lookups are not cached.
func (m *ProxyMetrics) endConn(info *l4.ConnInfo) {
	m.l4Conns.WithLabelValues(info.Gateway, info.Listener, info.Route, info.Backend, info.Outcome).Inc()
	if info.Outcome != l4.OutcomeOK && info.Outcome != l4.OutcomeAborted {
		return // never reached a backend
	}
	m.l4Duration.WithLabelValues(info.Gateway, info.Listener, info.Route, info.Backend).Observe(info.Duration.Seconds())
	m.l4Bytes.WithLabelValues(info.Gateway, info.Listener, info.Route, info.Backend, "received").Add(float64(info.BytesReceived))
	m.l4Bytes.WithLabelValues(info.Gateway, info.Listener, info.Route, info.Backend, "sent").Add(float64(info.BytesSent))
}

// ConfigApplied records the result of applying one configuration delta.
func (m *ProxyMetrics) ConfigApplied(version uint64, rejected []ir.Rejection) {
	m.configVersion.Set(float64(version))
	m.configApplies.Inc()
	m.configRejected.Set(float64(len(rejected)))
	for _, r := range rejected {
		m.configRejections.WithLabelValues(string(r.ID.Kind)).Inc()
	}
}
