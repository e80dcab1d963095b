// Package telemetry is Gatehouse's operational output: Prometheus metrics for
// the proxy and the control plane, JSON access logs and OpenTelemetry
// tracing.
//
// The proxy side is one proxy.Observer (NewObserver) that combines whichever
// of the three are enabled; when none is, callers pass no observer at all and
// the request path pays nothing. The Observer also implements
// proxy.UpstreamObserver, so with tracing on each upstream call gets a client
// span (child of the request's server span, named in the traceparent the
// upstream receives). Spans are exported with OTLP over HTTP or gRPC.
// ProxyMetrics.ConnState is the socket layer's connection hook (downstream
// connections per bind), and ControllerMetrics.ObserveProvision the
// provisioner's Recorder. Control-plane metrics wrap the translator's
// source.Sink (WrapSink) and read the xDS server and status writer through
// their exported accessors at scrape time.
//
// Every metric is declared once in catalog.go (name, type, labels, help); the
// collectors are built from that table and docs/operations.md is checked
// against it by a test, so the documentation cannot drift from the code.
//
// Cardinality is bounded by construction: labels are the Gateway, listener,
// HTTPRoute (namespace/name, not the rule), backend and status class (2xx,
// 4xx, ...). Paths, hosts and endpoint addresses are never labels.
package telemetry
