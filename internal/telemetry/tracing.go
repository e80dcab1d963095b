package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/version"
)

// TracingOptions configures OpenTelemetry tracing.
type TracingOptions struct {
	// Endpoint is the OTLP/HTTP collector: a URL such as
	// "http://127.0.0.1:4318" (the path /v1/traces is added when absent) or
	// a bare host:port, which is taken as plain http.
	Endpoint string
	// Sample is the fraction of new traces recorded (a request that carries
	// a sampled traceparent is always recorded); 0 means 1.
	Sample float64
	// ServiceName is the service.name resource attribute ("gatehouse").
	ServiceName string
}

// Tracer starts a server span per request, continues the caller's W3C trace
// context, and passes the span's context to the upstream in traceparent.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
}

// NewTracer creates the OTLP/HTTP exporter and a batching tracer provider.
// No connection is made until the first batch is exported.
func NewTracer(o TracingOptions) (*Tracer, error) {
	endpoint, err := otlpURL(o.Endpoint)
	if err != nil {
		return nil, err
	}
	if o.Sample < 0 || o.Sample > 1 {
		return nil, fmt.Errorf("trace sample %v: must be between 0 and 1", o.Sample)
	}
	if o.Sample == 0 {
		o.Sample = 1
	}
	if o.ServiceName == "" {
		o.ServiceName = "gatehouse"
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("otlp endpoint %s: %w", o.Endpoint, err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", o.ServiceName),
		attribute.String("service.version", version.Version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.Sample))),
	)
	return &Tracer{provider: tp, tracer: tp.Tracer("gatehouse.dev/gatehouse/proxy"), prop: propagation.TraceContext{}}, nil
}

// otlpURL normalises the --otlp-endpoint value to a full URL.
func otlpURL(endpoint string) (string, error) {
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("otlp endpoint %q: want http(s)://host:port[/path] or host:port", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// Shutdown flushes spans not yet exported, until ctx ends.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// begin starts the server span and writes its traceparent into r's headers,
// which the upstream forwards as they are.
func (t *Tracer) begin(r *http.Request, start time.Time) (context.Context, trace.Span) {
	hdr := propagation.HeaderCarrier(r.Header)
	ctx := t.prop.Extract(r.Context(), hdr)
	ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("server.address", r.Host),
			attribute.String("network.protocol.version", strings.TrimPrefix(r.Proto, "HTTP/")),
		))
	if span.SpanContext().IsValid() {
		// Replace, never append: a client's own traceparent must not reach
		// the upstream next to ours.
		r.Header.Del("traceparent")
		r.Header.Del("tracestate")
		t.prop.Inject(ctx, hdr)
	}
	return ctx, span
}

// end names the span after the route and records the outcome.
func (t *Tracer) end(span trace.Span, info *proxy.RequestInfo) {
	route := routeLabel(info.Route)
	if route != "" {
		span.SetName(info.Request.Method + " " + route)
	}
	span.SetAttributes(
		attribute.Int("http.response.status_code", info.Status),
		attribute.Int64("http.response.body.size", info.BytesWritten),
		attribute.String("gatehouse.gateway", info.Gateway),
		attribute.String("gatehouse.listener", info.Listener),
		attribute.String("gatehouse.route", route),
		attribute.String("gatehouse.rule", info.Route),
		attribute.String("gatehouse.backend", info.Backend),
	)
	if info.Status >= 500 || info.Status == 0 {
		span.SetStatus(codes.Error, http.StatusText(info.Status))
	}
	span.End(trace.WithTimestamp(info.Start.Add(info.Duration)))
}
