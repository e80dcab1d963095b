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
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
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
	// Endpoint is the OTLP collector. For OTLP/HTTP, a URL such as
	// "http://127.0.0.1:4318" (the path /v1/traces is added when absent) or
	// a bare host:port, taken as plain http. For OTLP/gRPC,
	// "grpc://host:port" (plaintext), "grpcs://host:port" (TLS), or with
	// Protocol "grpc" also http(s)://host:port or host:port.
	Endpoint string
	// Protocol is "http/protobuf" or "grpc" (the names of
	// OTEL_EXPORTER_OTLP_PROTOCOL); empty picks grpc for grpc:// and
	// grpcs:// endpoints and http/protobuf otherwise.
	Protocol string
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
	exp, err := newExporter(o)
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
	res := resource.NewSchemaless(attribute.String("service.name", o.ServiceName),
		attribute.String("service.version", version.Version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.Sample))),
	)
	return &Tracer{provider: tp, tracer: tp.Tracer("gatehouse.dev/gatehouse/proxy"), prop: propagation.TraceContext{}}, nil
}

// Protocols of TracingOptions.Protocol.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// newExporter creates the OTLP exporter o asks for. No connection is made
// until the first export.
func newExporter(o TracingOptions) (sdktrace.SpanExporter, error) {
	proto := o.Protocol
	lower := strings.ToLower(o.Endpoint)
	if proto == "" {
		proto = ProtocolHTTP
		if strings.HasPrefix(lower, "grpc://") || strings.HasPrefix(lower, "grpcs://") {
			proto = ProtocolGRPC
		}
	}
	switch proto {
	case ProtocolHTTP:
		endpoint, err := otlpURL(o.Endpoint)
		if err != nil {
			return nil, err
		}
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint))
		if err != nil {
			return nil, fmt.Errorf("otlp endpoint %s: %w", o.Endpoint, err)
		}
		return exp, nil
	case ProtocolGRPC:
		hostport, secure, err := otlpGRPCTarget(o.Endpoint)
		if err != nil {
			return nil, err
		}
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(hostport)}
		if !secure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		exp, err := otlptracegrpc.New(context.Background(), opts...)
		if err != nil {
			return nil, fmt.Errorf("otlp endpoint %s: %w", o.Endpoint, err)
		}
		return exp, nil
	}
	return nil, fmt.Errorf("otlp protocol %q: use %s or %s", o.Protocol, ProtocolHTTP, ProtocolGRPC)
}

// otlpGRPCTarget parses a gRPC collector endpoint into host:port and
// whether to use TLS.
func otlpGRPCTarget(endpoint string) (string, bool, error) {
	bad := fmt.Errorf("otlp endpoint %q: want grpc://host:port, grpcs://host:port or host:port", endpoint)
	if !strings.Contains(endpoint, "://") {
		endpoint = "grpc://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", false, bad
	}
	switch u.Scheme {
	case "grpc", "http":
		return u.Host, false, nil
	case "grpcs", "https":
		return u.Host, true, nil
	}
	return "", false, bad
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

// beginClient starts the client span of the upstream call, a child of the
// server span in r's context, and makes the upstream's traceparent name it.
func (t *Tracer) beginClient(r *http.Request, backend string) (*http.Request, trace.Span) {
	ctx, span := t.tracer.Start(r.Context(), r.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("gatehouse.backend", backend),
		))
	if span.SpanContext().IsValid() {
		hdr := propagation.HeaderCarrier(r.Header)
		r.Header.Del("traceparent")
		r.Header.Del("tracestate")
		t.prop.Inject(ctx, hdr)
	}
	return r.WithContext(ctx), span
}

// endClient records the upstream call's outcome: the status the client
// received (a 502 or 504 the proxy produced when the upstream failed).
func endClient(span trace.Span, status int) {
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 500 || status == 0 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
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
