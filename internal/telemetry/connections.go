package telemetry

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// connSeries are the connection metrics of one bind.
type connSeries struct {
	active prometheus.Gauge
	total  prometheus.Counter
}

// ConnState counts downstream connections; it is the listener's
// Options.ConnState hook. A connection is counted from StateNew until
// StateClosed or StateHijacked (a WebSocket upgrade leaves net/http's
// accounting but is still open; it is not tracked further).
func (m *ProxyMetrics) ConnState(bind string, state http.ConnState) {
	switch state {
	case http.StateNew:
		s := m.connsFor(bind)
		s.total.Inc()
		s.active.Inc()
	case http.StateClosed, http.StateHijacked:
		m.connsFor(bind).active.Dec()
	}
}

func (m *ProxyMetrics) connsFor(bind string) *connSeries {
	if s, ok := m.conns.Load(bind); ok {
		return s.(*connSeries)
	}
	s, _ := m.conns.LoadOrStore(bind, &connSeries{
		active: m.downActive.WithLabelValues(bind),
		total:  m.downTotal.WithLabelValues(bind),
	})
	return s.(*connSeries)
}
