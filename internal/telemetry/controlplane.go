package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/internal/distribute/xds"
	"gatehouse.dev/gatehouse/internal/provision"
	"gatehouse.dev/gatehouse/internal/source"
)

// TranslationMetrics counts and times the translator's batches.
type TranslationMetrics struct {
	batches  prometheus.Counter
	events   *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewTranslationMetrics creates the translation metrics and registers them.
func NewTranslationMetrics(reg prometheus.Registerer) *TranslationMetrics {
	m := &TranslationMetrics{batches: specBatches.counter(), events: specEvents.counterVec(),
		duration: specTranslateTime.histogram()}
	reg.MustRegister(m.batches, m.events, m.duration)
	return m
}

// WrapSink returns a sink that forwards to next and measures each batch.
// Apply is synchronous in the translator (it returns once the batch is
// translated and its outputs delivered), so the time measured is the
// translation of that batch.
func (m *TranslationMetrics) WrapSink(next source.Sink) source.Sink {
	if m == nil {
		return next
	}
	return &timedSink{next: next, m: m}
}

type timedSink struct {
	next source.Sink
	m    *TranslationMetrics
}

// Apply implements source.Sink.
func (s *timedSink) Apply(events []source.Event) {
	start := time.Now()
	s.next.Apply(events)
	s.m.duration.Observe(time.Since(start).Seconds())
	s.m.batches.Inc()
	for _, e := range events {
		s.m.events.WithLabelValues(e.Kind).Inc()
	}
}

// ControllerSources are the controller's parts read at scrape time. Any may
// be nil.
type ControllerSources struct {
	// Proxies lists connected proxies (xds.Server.Proxies).
	Proxies func() []xds.ProxyStatus
	// HubVersion is the IR version served (distribute.Hub.Version).
	HubVersion func() uint64
	// StatusWrites and StatusQueue read the status writer.
	StatusWrites func() int64
	StatusQueue  func() int
}

// ControllerMetrics are the Kubernetes-mode metrics beyond translation.
type ControllerMetrics struct {
	pushLatency *prometheus.HistogramVec
	provision   *prometheus.CounterVec
}

// NewControllerMetrics registers a collector over s and the push-latency
// histogram fed by ObservePush.
func NewControllerMetrics(reg prometheus.Registerer, s ControllerSources) *ControllerMetrics {
	m := &ControllerMetrics{pushLatency: specPushLatency.histogramVec(), provision: specProvision.counterVec()}
	reg.MustRegister(m.pushLatency, m.provision, &controllerCollector{s: s})
	return m
}

// ObserveProvision counts one provisioned object (a provision.Recorder).
func (m *ControllerMetrics) ObserveProvision(kind string, outcome provision.Outcome) {
	m.provision.WithLabelValues(kind, string(outcome)).Inc()
}

// ObservePush records one xDS response and its answer (xds.Options.OnPush).
func (m *ControllerMetrics) ObservePush(p xds.Push) {
	result := "ack"
	if p.Rejected > 0 {
		result = "nack"
	}
	m.pushLatency.WithLabelValues(p.Gateway, result).Observe(p.Latency.Seconds())
}

// controllerCollector turns the controller's accessors into metrics at
// scrape time, so nothing on the hot paths has to count.
type controllerCollector struct{ s ControllerSources }

var (
	descHubVersion   = specHubVersion.desc()
	descProxies      = specProxies.desc()
	descPushes       = specPushes.desc()
	descPushBytes    = specPushBytes.desc()
	descAcked        = specAcked.desc()
	descStatusWrites = specStatusWrites.desc()
	descStatusQueue  = specStatusQueue.desc()
)

// Describe implements prometheus.Collector.
func (c *controllerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHubVersion, descProxies, descPushes, descPushBytes, descAcked,
		descStatusWrites, descStatusQueue} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *controllerCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.HubVersion != nil {
		ch <- prometheus.MustNewConstMetric(descHubVersion, prometheus.GaugeValue, float64(c.s.HubVersion()))
	}
	if c.s.StatusWrites != nil {
		ch <- prometheus.MustNewConstMetric(descStatusWrites, prometheus.CounterValue, float64(c.s.StatusWrites()))
	}
	if c.s.StatusQueue != nil {
		ch <- prometheus.MustNewConstMetric(descStatusQueue, prometheus.GaugeValue, float64(c.s.StatusQueue()))
	}
	if c.s.Proxies == nil {
		return
	}
	perGateway := map[string]int{}
	seen := map[[2]string]bool{}
	for _, p := range c.s.Proxies() {
		perGateway[p.Gateway]++
		// Two streams of one node (a reconnect racing the old stream's
		// teardown) would collide; report the first.
		if k := [2]string{p.Gateway, p.Node}; !seen[k] {
			seen[k] = true
			ch <- prometheus.MustNewConstMetric(descPushes, prometheus.CounterValue, float64(p.Responses), p.Gateway, p.Node)
			ch <- prometheus.MustNewConstMetric(descPushBytes, prometheus.CounterValue, float64(p.BytesSent), p.Gateway, p.Node)
			ch <- prometheus.MustNewConstMetric(descAcked, prometheus.GaugeValue, float64(p.VersionAcked), p.Gateway, p.Node)
		}
	}
	for gw, n := range perGateway {
		ch <- prometheus.MustNewConstMetric(descProxies, prometheus.GaugeValue, float64(n), gw)
	}
}
