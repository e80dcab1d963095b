package telemetry

import (
	"context"
	"net"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// grpcReceiver is an in-test OTLP/gRPC collector (the TraceService) that
// keeps every span.
type grpcReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu         sync.Mutex
	spans      []*tracepb.Span
	userAgents []string
}

func (g *grpcReceiver) Export(ctx context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		g.userAgents = append(g.userAgents, md.Get("user-agent")...)
	}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			g.spans = append(g.spans, ss.Spans...)
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// startGRPCReceiver serves a grpcReceiver on 127.0.0.1.
func startGRPCReceiver(t *testing.T) (*grpcReceiver, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	recv := &grpcReceiver{}
	collectortrace.RegisterTraceServiceServer(srv, recv)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return recv, ln.Addr().String()
}

func (g *grpcReceiver) spansByKind() (server, client []*tracepb.Span) {
	o := &otlpReceiver{spans: g.snapshot()}
	return o.spansByKind()
}

func (g *grpcReceiver) snapshot() []*tracepb.Span {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*tracepb.Span(nil), g.spans...)
}

// TestTracingOverGRPC: the same spans arrive at an OTLP/gRPC receiver,
// selected by the grpc:// scheme or by Protocol.
func TestTracingOverGRPC(t *testing.T) {
	for _, tc := range []struct {
		name     string
		endpoint func(addr string) string
		protocol string
	}{
		{"grpc scheme", func(a string) string { return "grpc://" + a }, ""},
		{"protocol flag", func(a string) string { return a }, ProtocolGRPC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv, addr := startGRPCReceiver(t)
			tr, err := NewTracer(TracingOptions{Endpoint: tc.endpoint(addr), Protocol: tc.protocol})
			if err != nil {
				t.Fatal(err)
			}
			upstreamParents := tracedRequests(t, tr)
			server, client := recv.spansByKind()
			checkSpans(t, server, client, upstreamParents)
			recv.mu.Lock()
			defer recv.mu.Unlock()
			if len(recv.userAgents) == 0 {
				t.Error("the export carried no gRPC metadata")
			}
		})
	}
}

func TestOTLPGRPCTarget(t *testing.T) {
	for in, want := range map[string]struct {
		hostport string
		secure   bool
	}{
		"grpc://127.0.0.1:4317":   {"127.0.0.1:4317", false},
		"grpcs://collector:4317":  {"collector:4317", true},
		"127.0.0.1:4317":          {"127.0.0.1:4317", false},
		"https://collector:4317/": {"collector:4317", true},
	} {
		hp, secure, err := otlpGRPCTarget(in)
		if err != nil || hp != want.hostport || secure != want.secure {
			t.Errorf("otlpGRPCTarget(%q) = %q %v %v, want %v", in, hp, secure, err, want)
		}
	}
	for _, bad := range []string{"ftp://x:1", "grpc://x:1/v1/traces", "grpc://"} {
		if _, _, err := otlpGRPCTarget(bad); err == nil {
			t.Errorf("otlpGRPCTarget(%q): no error", bad)
		}
	}
	if _, err := NewTracer(TracingOptions{Endpoint: "127.0.0.1:1", Protocol: "thrift"}); err == nil {
		t.Error("unknown protocol accepted")
	}
}
