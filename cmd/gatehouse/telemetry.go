package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"gatehouse.dev/gatehouse/internal/telemetry"
)

// telemetryFlags are the observability and lifecycle flags shared by
// `gatehouse run` and `gatehouse proxy`.
type telemetryFlags struct {
	accessLog       string
	accessLogFields []string
	accessLogFilter string
	accessLogSample float64
	otlpEndpoint    string
	otlpProtocol    string
	traceSample     float64
	shutdownDelay   time.Duration
}

func (t *telemetryFlags) register(f *pflag.FlagSet, defaultShutdownDelay time.Duration) {
	f.StringVar(&t.accessLog, "access-log", "off", "access log to stdout: off or json")
	f.StringArrayVar(&t.accessLogFields, "access-log-fields", nil,
		"access log fields: built-in names, comma-separated (\"default\" = all built-ins), or one name=CEL per flag; repeatable (default all built-ins)")
	f.StringVar(&t.accessLogFilter, "access-log-filter", "", "CEL expression (bool): log only requests for which it is true, e.g. 'response.code >= 500'")
	f.Float64Var(&t.accessLogSample, "access-log-sample", 1, "fraction of requests logged, in (0, 1]")
	f.StringVar(&t.otlpEndpoint, "otlp-endpoint", "", "OTLP collector for traces, e.g. http://127.0.0.1:4318 (HTTP) or grpc://127.0.0.1:4317 (gRPC); empty disables tracing")
	f.StringVar(&t.otlpProtocol, "otlp-protocol", "", "OTLP transport: http/protobuf or grpc; empty picks grpc for grpc:// and grpcs:// endpoints, http/protobuf otherwise")
	f.Float64Var(&t.traceSample, "trace-sample", 1, "fraction of new traces recorded, in (0, 1]; requests with a sampled traceparent are always recorded")
	f.DurationVar(&t.shutdownDelay, "shutdown-delay", defaultShutdownDelay, "on SIGTERM, how long /ready answers 503 while still serving, before listeners stop accepting")
}

// build returns the access log and tracer the flags ask for (nil when off).
func (t *telemetryFlags) build() (*telemetry.AccessLog, *telemetry.Tracer, error) {
	var al *telemetry.AccessLog
	switch t.accessLog {
	case "off", "":
		if len(t.accessLogFields) > 0 || t.accessLogFilter != "" {
			return nil, nil, fmt.Errorf("--access-log-fields and --access-log-filter need --access-log json")
		}
	case "json":
		var err error
		al, err = telemetry.NewAccessLog(telemetry.AccessLogOptions{Output: os.Stdout, Fields: splitFields(t.accessLogFields),
			Filter: t.accessLogFilter, Sample: t.accessLogSample})
		if err != nil {
			return nil, nil, fmt.Errorf("--access-log: %w", err)
		}
	default:
		return nil, nil, fmt.Errorf("--access-log %q: use off or json", t.accessLog)
	}
	var tr *telemetry.Tracer
	if t.otlpEndpoint != "" {
		var err error
		if tr, err = telemetry.NewTracer(telemetry.TracingOptions{Endpoint: t.otlpEndpoint, Protocol: t.otlpProtocol, Sample: t.traceSample}); err != nil {
			return nil, nil, fmt.Errorf("--otlp-endpoint: %w", err)
		}
	}
	return al, tr, nil
}

// splitFields expands each --access-log-fields value: a name=CEL value is
// one field (CEL may contain commas); anything else is a comma-separated
// list of built-in names.
func splitFields(values []string) []string {
	var out []string
	for _, v := range values {
		if containsByte(v, '=') {
			out = append(out, v)
			continue
		}
		start := 0
		for i := 0; i <= len(v); i++ {
			if i == len(v) || v[i] == ',' {
				if i > start {
					out = append(out, v[start:i])
				}
				start = i + 1
			}
		}
	}
	return out
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
