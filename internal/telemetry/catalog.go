package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
)

// MetricType is the Prometheus type of a metric.
type MetricType string

// Metric types.
const (
	Counter   MetricType = "counter"
	Gauge     MetricType = "gauge"
	Histogram MetricType = "histogram"
)

// Spec declares one metric. Collectors are built from Specs so the names,
// labels and help texts in docs/operations.md can be checked against them.
type Spec struct {
	Name   string
	Type   MetricType
	Labels []string
	Help   string
	// Buckets of a histogram.
	Buckets []float64
}

// Label sets shared by the request metrics.
var (
	requestLabels  = []string{"gateway", "listener", "route", "backend", "code_class"}
	routeLabels    = []string{"gateway", "listener", "route", "backend"}
	durationBkts   = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	l4DurationBkts = []float64{.01, .1, 1, 10, 60, 300, 1800, 3600}
	sizeBkts       = []float64{0, 128, 1 << 10, 8 << 10, 64 << 10, 512 << 10, 4 << 20, 32 << 20}
)

// Proxy metrics.
var (
	specRequests = Spec{"gatehouse_proxy_requests_total", Counter, requestLabels,
		"Requests served, by gateway, listener, HTTPRoute, backend and status class.", nil}
	specDuration = Spec{"gatehouse_proxy_request_duration_seconds", Histogram, requestLabels,
		"Time from receiving a request to the end of its response.", durationBkts}
	specRequestSize = Spec{"gatehouse_proxy_request_size_bytes", Histogram, requestLabels,
		"Request body bytes read from the client.", sizeBkts}
	specResponseSize = Spec{"gatehouse_proxy_response_size_bytes", Histogram, requestLabels,
		"Response body bytes written to the client.", sizeBkts}
	specActive = Spec{"gatehouse_proxy_requests_active", Gauge, nil,
		"Requests in flight.", nil}
	specConnectErrors = Spec{"gatehouse_proxy_upstream_connect_errors_total", Counter, routeLabels,
		"Failed attempts to open a connection to a backend endpoint.", nil}
	specUpstreamConns = Spec{"gatehouse_proxy_upstream_connections_opened_total", Counter, []string{"backend"},
		"New connections opened to backend endpoints (keep-alive reuse not counted).", nil}
	specDownstreamActive = Spec{"gatehouse_proxy_downstream_connections_active", Gauge, []string{"bind"},
		"Client connections open, by bind (address:port; a bind may serve several Gateways).", nil}
	specDownstreamTotal = Spec{"gatehouse_proxy_downstream_connections_total", Counter, []string{"bind"},
		"Client connections accepted, by bind.", nil}
	specConfigVersion = Spec{"gatehouse_proxy_config_version", Gauge, nil,
		"Version of the configuration the proxy last applied.", nil}
	specConfigApplies = Spec{"gatehouse_proxy_config_applies_total", Counter, nil,
		"Configuration deltas applied.", nil}
	specConfigRejected = Spec{"gatehouse_proxy_config_rejected_resources", Gauge, nil,
		"Resources the last applied delta rejected (their previous version keeps serving).", nil}
	specConfigRejections = Spec{"gatehouse_proxy_config_rejections_total", Counter, []string{"kind"},
		"Resources rejected by the proxy, by IR kind.", nil}
	specLLMTokens = Spec{"gatehouse_proxy_llm_tokens_total", Counter, []string{"backend", "model", "type"},
		"Tokens LLM backends reported in responses, by backend, model (a model the backend declares, else \"other\") and type (prompt or completion).", nil}
	specL4Conns = Spec{"gatehouse_proxy_l4_connections_total", Counter, []string{"gateway", "listener", "route", "backend", "outcome"},
		"Finished connections of TLS and TCP listeners (TLSRoute, TCPRoute), by gateway, listener, route, backend and outcome (ok, no_route, tls_error, no_backend, connect_error, aborted).", nil}
	specL4Duration = Spec{"gatehouse_proxy_l4_connection_duration_seconds", Histogram, routeLabels,
		"Lifetime of the TLS and TCP listeners' connections that reached a backend.", l4DurationBkts}
	specL4Bytes = Spec{"gatehouse_proxy_l4_bytes_total", Counter, []string{"gateway", "listener", "route", "backend", "direction"},
		"Bytes relayed by TLS and TCP listeners, by direction (received from or sent to the client).", nil}
)

// Control-plane metrics.
var (
	specBatches = Spec{"gatehouse_translation_batches_total", Counter, nil,
		"Event batches translated.", nil}
	specEvents = Spec{"gatehouse_translation_events_total", Counter, []string{"kind"},
		"Object events translated, by object kind.", nil}
	specTranslateTime = Spec{"gatehouse_translation_duration_seconds", Histogram, nil,
		"Time to translate one batch of events (incremental).", durationBkts}
	specHubVersion = Spec{"gatehouse_controller_config_version", Gauge, nil,
		"Version of the IR the controller serves.", nil}
	specProxies = Spec{"gatehouse_controller_proxies_connected", Gauge, []string{"gateway"},
		"Proxies with an open xDS stream, by Gateway.", nil}
	specPushes = Spec{"gatehouse_controller_xds_pushes_total", Counter, []string{"gateway", "node"},
		"xDS responses sent to each connected proxy (since it connected).", nil}
	specPushBytes = Spec{"gatehouse_controller_xds_push_bytes_total", Counter, []string{"gateway", "node"},
		"Bytes of xDS responses sent to each connected proxy (since it connected).", nil}
	specAcked = Spec{"gatehouse_controller_proxy_acked_version", Gauge, []string{"gateway", "node"},
		"Configuration version each connected proxy last acknowledged.", nil}
	specPushLatency = Spec{"gatehouse_controller_xds_push_duration_seconds", Histogram, []string{"gateway", "result"},
		"Time from sending an xDS response to the proxy's ACK or NACK (result: ack or nack).", durationBkts}
	specStatusWrites = Spec{"gatehouse_controller_status_writes_total", Counter, nil,
		"Status updates written to the API server.", nil}
	specStatusQueue = Spec{"gatehouse_controller_status_queue_depth", Gauge, nil,
		"Objects waiting for a status write.", nil}
	specProvision = Spec{"gatehouse_controller_provision_objects_total", Counter, []string{"kind", "result"},
		"Provisioned objects applied, by kind (ServiceAccount, Service, Deployment) and result (created, updated, unchanged, error).", nil}
)

// ProxySpecs lists the data-plane metrics.
func ProxySpecs() []Spec {
	return []Spec{specRequests, specDuration, specRequestSize, specResponseSize, specActive, specConnectErrors,
		specUpstreamConns, specDownstreamActive, specDownstreamTotal, specConfigVersion, specConfigApplies, specConfigRejected, specConfigRejections, specLLMTokens,
		specL4Conns, specL4Duration, specL4Bytes}
}

// ControlPlaneSpecs lists the translation and controller metrics.
func ControlPlaneSpecs() []Spec {
	return []Spec{specBatches, specEvents, specTranslateTime, specHubVersion, specProxies, specPushes,
		specPushBytes, specAcked, specPushLatency, specStatusWrites, specStatusQueue, specProvision}
}

func (s Spec) counterVec() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: s.Name, Help: s.Help}, s.Labels)
}

func (s Spec) counter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: s.Name, Help: s.Help})
}

func (s Spec) gauge() prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: s.Name, Help: s.Help})
}

func (s Spec) gaugeVec() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: s.Name, Help: s.Help}, s.Labels)
}

func (s Spec) histogramVec() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: s.Name, Help: s.Help, Buckets: s.Buckets}, s.Labels)
}

func (s Spec) histogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: s.Name, Help: s.Help, Buckets: s.Buckets})
}

func (s Spec) desc() *prometheus.Desc {
	return prometheus.NewDesc(s.Name, s.Help, s.Labels, nil)
}
